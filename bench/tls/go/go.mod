module netpoll.bench/tls

go 1.19
