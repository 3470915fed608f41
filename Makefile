# One entry point for checks: README and .ci/run both call `make test`.
GO ?= go
FUZZTIME ?= 5s

.PHONY: test build vet fmt imports race fuzz-smoke bench-compile bench-echo soak e2e-kube

test: vet fmt imports race fuzz-smoke bench-compile

build:
	$(GO) build -o wsbench ./cmd/wsbench

vet:
	$(GO) vet ./...
	cd kit/servers && $(GO) vet ./...

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

imports:
	bash scripts/check-imports.sh

race:
	$(GO) test -race -shuffle=on -count=1 ./...

# Short runs of every fuzz target; scripts/fuzz.sh runs them longer.
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

bench-compile:
	$(GO) test -run='^$$' -bench=. -benchtime=1x ./... > /dev/null

bench-echo:
	bash scripts/bench-echo.sh

# 30 minutes of 1,000 connections at 5,000 msg/s; DURATION=10m etc. to shorten.
soak:
	bash scripts/soak.sh

# Opt-in, root: wsbench kube run against a real kube-apiserver and
# kube-controller-manager (built from the module proxy, cached), Debian's
# etcd and a kubelet stand-in (scripts/e2e-kube.sh). Not part of `make test`.
e2e-kube:
	bash scripts/e2e-kube.sh
