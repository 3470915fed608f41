//go:build linux

package main

import (
	"fmt"
	"log"
	"net/netip"
	"os/exec"
	"strings"
)

// The host side: --gateway sits on a veth pair of its own (both ends on the
// host), so it is a local address of the host however many pods there are;
// each pod's veth carries only a /32 route to the pod.
const gatewayLink = "wsbe2e-gw"

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (s *standin) addGateway() error {
	_ = ip("link", "del", gatewayLink) // left over by a killed run
	for _, args := range [][]string{
		{"link", "add", gatewayLink, "type", "veth", "peer", "name", gatewayLink + "p"},
		{"addr", "add", s.cfg.gateway.String() + "/32", "dev", gatewayLink},
		{"link", "set", gatewayLink + "p", "up"},
		{"link", "set", gatewayLink, "up"},
	} {
		if err := ip(args...); err != nil {
			s.delGateway()
			return fmt.Errorf("gateway %s: %w", s.cfg.gateway, err)
		}
		s.anchor = true
	}
	return nil
}

func (s *standin) delGateway() {
	if s.anchor {
		if err := ip("link", "del", gatewayLink); err != nil {
			log.Print(err)
		}
		s.anchor = false
	}
}

// makeNetns makes the pod's network namespace: eth0 with the pod's /32,
// routes to the gateway, loopback up.
func (s *standin) makeNetns(uid string, addr netip.Addr) (string, error) {
	id := strings.ReplaceAll(uid, "-", "")[:8]
	ns, host := "wsbe2e-"+id, "wsbe"+id
	gw := s.cfg.gateway.String()
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", host, "up"},
		{"route", "add", addr.String() + "/32", "dev", host},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", addr.String() + "/32", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", gw, "dev", "eth0"},
		{"-n", ns, "route", "add", "default", "via", gw, "dev", "eth0"},
	} {
		if err := ip(args...); err != nil {
			s.delNetns(ns)
			return "", err
		}
	}
	return ns, nil
}

func (s *standin) delNetns(ns string) {
	// Deleting the namespace deletes eth0, its peer on the host and the route.
	if err := ip("netns", "del", ns); err != nil {
		log.Print(err)
	}
}
