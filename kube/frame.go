package kube

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/wsbench/wsbench/results"
)

// A shard's result travels in its log as one line:
//
//	wsbench-result v1 sha256=HEX BASE64
//
// BASE64 (standard, padded) is the gzip of the result's JSON, HEX the
// SHA-256 of that JSON. A log line is text of any length to the kubelet;
// one line with a checksum means a result cut short (a log rotated, a
// stream broken) is refused rather than merged. The kubelet keeps the last
// 10 MiB of a container's log by default: a shard's result, histograms
// included, is tens of KiB compressed.
const framePrefix = "wsbench-result v1 "

// FrameLine returns rep as one framed line, newline included.
func FrameLine(rep *results.Report) ([]byte, error) {
	j, err := json.Marshal(rep)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	sum := sha256.Sum256(j)
	var z bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	gz.Write(j)
	if err := gz.Close(); err != nil {
		return nil, err
	}
	line := make([]byte, 0, len(framePrefix)+7+64+1+base64.StdEncoding.EncodedLen(z.Len())+1)
	line = append(line, framePrefix...)
	line = append(line, "sha256="...)
	line = hex.AppendEncode(line, sum[:])
	line = append(line, ' ')
	line = base64.StdEncoding.AppendEncode(line, z.Bytes())
	return append(line, '\n'), nil
}

// WriteFrame writes rep to w as one framed line.
func WriteFrame(w io.Writer, rep *results.Report) error {
	line, err := FrameLine(rep)
	if err != nil {
		return err
	}
	_, err = w.Write(line)
	return err
}

// ErrNoFrame is returned by ReadFrame for a log that holds no result line.
var ErrNoFrame = errors.New("no result line (wsbench-result v1 …) in the log")

// ReadFrame finds the last result line in a log and decodes it, checking
// its checksum. Lines may carry a prefix before the frame (a log
// collector's timestamp).
func ReadFrame(r io.Reader) (*results.Report, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	var last string
	for sc.Scan() {
		if i := bytes.Index(sc.Bytes(), []byte(framePrefix)); i >= 0 {
			last = string(sc.Bytes()[i:])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the log: %w", err)
	}
	if last == "" {
		return nil, ErrNoFrame
	}
	return ParseFrame(last)
}

// ParseFrame decodes one result line.
func ParseFrame(line string) (*results.Report, error) {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), framePrefix)
	if !ok {
		return nil, errors.New("not a result line: it does not start with " + strings.TrimSpace(framePrefix))
	}
	sumText, data, ok := strings.Cut(rest, " ")
	sumHex, okSum := strings.CutPrefix(sumText, "sha256=")
	want, err := hex.DecodeString(sumHex)
	if !ok || !okSum || err != nil || len(want) != sha256.Size {
		return nil, errors.New("result line: want sha256=HEX (64 hex digits) then the data")
	}
	z, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("result line cut short or damaged: base64: %w", err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("result line cut short or damaged: gzip: %w", err)
	}
	j, err := io.ReadAll(io.LimitReader(gz, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("result line cut short or damaged: gzip: %w", err)
	}
	if got := sha256.Sum256(j); !bytes.Equal(got[:], want) {
		return nil, fmt.Errorf("result line damaged: sha256 %x, the line says %x", got, want)
	}
	return results.Parse(j)
}
