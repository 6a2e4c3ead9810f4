# Mocket: `make demo` runs the control plane on the shipped example cluster; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

JAVA_HOME := $(shell scripts/find-jdk.sh)
export JAVA_HOME
MVN := mvn -B -ntp
CP_JAR = control-plane/target/mocket-control-plane-0.1.0-SNAPSHOT-exec.jar
JVM_FLAGS := --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow

.PHONY: help deps build test demo bench bench-xds bench-agent bench-datapath clean check-jdk

help:
	@echo "make demo   - build and run the control plane on examples/cluster (no cluster needed)"
	@echo "make test   - install what is missing, build, and run every test"
	@echo "make bench  - run every benchmark (xDS scale, agent, data path; root; see docs/benchmarks.md)"
	@echo "              make bench-xds BENCH_ARGS='--clients=1000 --changes=200', make bench-agent, make bench-datapath"
	@echo "make build  - build all modules without tests"

check-jdk:
	@test -n "$(JAVA_HOME)" || { scripts/find-jdk.sh; exit 1; }

deps: check-jdk
	@scripts/install-deps.sh

build: deps
	$(MVN) -q package -DskipTests

test: deps
	$(MVN) verify
	scripts/test-reflection.sh "$(CP_JAR)"

demo: build
	@scripts/demo.sh "$(CP_JAR)"

bench: bench-xds bench-agent bench-datapath

bench-xds: build
	scripts/bench-xds.sh $(BENCH_ARGS)

bench-agent: build
	scripts/bench-agent.sh

bench-datapath: build
	@scripts/install-deps.sh bench
	integration-tests/bench-datapath.sh

clean:
	$(MVN) -q clean
