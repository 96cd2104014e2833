# Spawner's entry points. The two that matter on a fresh machine:
#   make up     a local cluster (built from upstream), Spawner deployed, the drop-four demo reachable
#   make test   every test tier: unit, integration (real control plane), end to end (real node)
# Everything a target needs (Debian packages, npm packages with Node 24, Go builds) is installed by
# scripts/bootstrap.sh, which skips what is already there.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
NODE := node_modules/.bin/node
JEST := $(NODE) --experimental-vm-modules node_modules/jest/bin/jest.js

.PHONY: help bootstrap generate typecheck test test-unit test-integration test-e2e \
        cluster-up cluster-down images deploy up down demo \
        bench-operator bench-sidecar bench-sweeper bench-cold-start

help: ## this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

bootstrap: ## install machine packages, npm packages and upstream binaries (skips what is present)
	bash scripts/bootstrap.sh

generate: ## regenerate the CRD manifest and TypeScript types from schema/
	$(NODE) schema/generate.ts

typecheck: ## tsc --noEmit over the whole tree
	tsc --noEmit -p tsconfig.json

test: ## all tiers; the closing line adds them up
	bash scripts/test.sh

test-unit: ## unit tests only (loopback sockets, no cluster)
	TIERS=unit bash scripts/test.sh

test-integration: ## integration tests against a real control plane with kwok nodes
	TIERS=integration bash scripts/test.sh

test-e2e: ## end-to-end tests on a real node
	TIERS=e2e bash scripts/test.sh

cluster-up: ## a control plane with kwok nodes; prints the KUBECONFIG export
	bash scripts/bootstrap.sh
	$(NODE) e2e/harness/cli.ts up

cluster-down: ## stop the cluster of cluster-up / up
	$(NODE) e2e/harness/cli.ts down

up: ## from a fresh machine: cluster + real node, images, Spawner deployed, the drop-four demo; prints its URL
	bash e2e/node/up.sh

down: ## stop the cluster of up (processes, mounts, network, iptables rules)
	$(NODE) e2e/harness/cli.ts down

images: ## build every image from local files and import it into the local node's containerd
	bash images/build.sh

deploy: ## apply the overlay that fits the current kubectl context and wait until Spawner is Ready
	bash e2e/node/deploy.sh

bench-operator: ## N backends created and deleted against kwok nodes: throughput, latency, writes, RSS
	$(NODE) bench/operator/run.ts $(ARGS)

bench-sidecar: ## direct vs sidecar vs nginx on loopback: HTTP req/s, WebSocket round trip and rate, idle RSS
	$(NODE) bench/sidecar/run.ts $(ARGS)

bench-sweeper: ## idle-to-deleted lag over 100 backends on a harness cluster
	$(NODE) bench/sweeper/run.ts $(ARGS)

bench-cold-start: ## after make up: create→Ready and create→first byte through nginx for 1 and 20 backends
	eval "$$($(NODE) e2e/harness/cli.ts env)" && $(NODE) bench/cold-start/run.ts --n 1,20 --rounds 3 $(ARGS)
