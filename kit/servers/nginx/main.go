// Command nginx is the wsbench kit server "nginx": nginx (Debian's package) in front
// of the kit's gorilla server, which must be built into the same folder. See
// internal/proxy and kit/README.md.
package main

import "github.com/wsbench/wsbench/kit/servers/internal/proxy"

func main() { proxy.Run("nginx") }
