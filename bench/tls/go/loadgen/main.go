// Command loadgen drives a TLS echo server for bench/tls/run.py.
//
//	loadgen -addr 127.0.0.1:PORT -ca ca.pem -mode handshake -conns 8 -secs 3
//	loadgen -addr 127.0.0.1:PORT -ca ca.pem -mode bulk -conns 1 -secs 3
//
// handshake: each worker loops dial, handshake, one 64-byte round trip,
// close (no session resumption: every handshake is a full one).
// bulk: each worker keeps one connection and writes 64 KiB blocks while a
// second goroutine reads the echo; MB counts bytes echoed back.
// Prints one JSON line: {"ops": N, "bytes": N, "secs": S, "errors": N}.
// probe: one handshake; prints the version and cipher suite negotiated.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "", "server address")
	caFile := flag.String("ca", "", "CA certificate (PEM)")
	mode := flag.String("mode", "handshake", "handshake or bulk")
	conns := flag.Int("conns", 8, "concurrent workers")
	secs := flag.Float64("secs", 3, "duration")
	flag.Parse()

	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{
		RootCAs:            pool,
		ServerName:         "localhost",
		MinVersion:         tls.VersionTLS13,
		MaxVersion:         tls.VersionTLS13,
		ClientSessionCache: nil, // full handshakes only
	}

	if *mode == "probe" {
		c, err := tls.Dial("tcp", *addr, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		st := c.ConnectionState()
		version := map[uint16]string{tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}[st.Version]
		fmt.Printf("%s %s\n", version, tls.CipherSuiteName(st.CipherSuite))
		c.Close()
		return
	}

	var ops, nbytes, errs int64
	deadline := time.Now().Add(time.Duration(*secs * float64(time.Second)))
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if *mode == "handshake" {
				handshakes(*addr, cfg, deadline, &ops, &errs)
			} else {
				bulk(*addr, cfg, deadline, &nbytes, &errs)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	out, _ := json.Marshal(map[string]interface{}{
		"ops": ops, "bytes": nbytes, "secs": elapsed, "errors": errs})
	fmt.Println(string(out))
}

func handshakes(addr string, cfg *tls.Config, deadline time.Time, ops, errs *int64) {
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	for time.Now().Before(deadline) {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			atomic.AddInt64(errs, 1)
			time.Sleep(time.Millisecond)
			continue
		}
		_, err = c.Write(msg)
		if err == nil {
			_, err = io.ReadFull(c, buf)
		}
		c.Close()
		if err != nil {
			atomic.AddInt64(errs, 1)
			continue
		}
		atomic.AddInt64(ops, 1)
	}
}

func bulk(addr string, cfg *tls.Config, deadline time.Time, nbytes, errs *int64) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		atomic.AddInt64(errs, 1)
		return
	}
	defer c.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 256*1024)
		for {
			n, err := c.Read(buf)
			atomic.AddInt64(nbytes, int64(n))
			if err != nil {
				return
			}
		}
	}()
	block := make([]byte, 64*1024)
	for time.Now().Before(deadline) {
		if _, err := c.Write(block); err != nil {
			atomic.AddInt64(errs, 1)
			break
		}
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	<-done
}
