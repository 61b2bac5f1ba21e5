// The toolkit benchmark's Go side: the same operations as bench_toolkit.py,
// one goroutine-per-OS-thread-free run (GOMAXPROCS=1, like netpoll's one
// thread).  Prints "name ns_per_op" lines.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func best(repeats int, f func() time.Duration) time.Duration {
	var b time.Duration
	for i := 0; i < repeats; i++ {
		d := f()
		if i == 0 || d < b {
			b = d
		}
	}
	return b
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 200000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	per := func(d time.Duration, ops int) float64 { return float64(d.Nanoseconds()) / float64(ops) }

	var mu sync.Mutex
	d := best(5, func() time.Duration {
		t := time.Now()
		for i := 0; i < n; i++ {
			mu.Lock()
			mu.Unlock()
		}
		return time.Since(t)
	})
	fmt.Printf("mutex %.1f\n", per(d, n))

	d = best(5, func() time.Duration {
		a := make(chan int, 1)
		t := time.Now()
		for i := 0; i < n; i++ {
			a <- i
			<-a
		}
		return time.Since(t)
	})
	fmt.Printf("chan_buffered %.1f\n", per(d, 2*n))

	d = best(5, func() time.Duration {
		a, b := make(chan int, n), make(chan int, n)
		for i := 0; i < n; i++ {
			a <- i
			b <- i
		}
		t := time.Now()
		for i := 0; i < n; i++ {
			select {
			case <-a:
			case <-b:
			}
		}
		return time.Since(t)
	})
	fmt.Printf("select2 %.1f\n", per(d, n))

	d = best(5, func() time.Duration {
		a, b := make(chan int), make(chan int)
		go func() {
			for v := range a {
				b <- v
			}
		}()
		t := time.Now()
		for i := 0; i < n; i++ {
			a <- i
			<-b
		}
		el := time.Since(t)
		close(a)
		return el
	})
	fmt.Printf("pingpong %.1f\n", per(d, 2*n))
}
