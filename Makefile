# Ledgerdesk. `make run` starts the portal, `make test` runs every test.
GO ?= go

# What `ledgerdesk version` and /healthz name, linked into release builds.
# BUILT is the commit's time, so two builds of one commit are the same bytes.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
BUILT   ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
LDFLAGS := -X ledgerdesk/version.version=$(VERSION) -X ledgerdesk/version.commit=$(COMMIT) -X ledgerdesk/version.built=$(BUILT)
# The platforms `make release` builds for.
PLATFORMS ?= linux/amd64 linux/arm64

.PHONY: run build release docker docs deploy-check test lint generate templ css check-generated screenshots clean

## run: start the portal on the embedded SQLite database (./data)
run:
	$(GO) run ./cmd/ledgerdesk

## build: build the binary into bin/
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ledgerdesk ./cmd/ledgerdesk

## release: static binaries for $(PLATFORMS) and their SHA256SUMS, in dist/
release:
	rm -rf dist && mkdir -p dist
	set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		echo "dist/ledgerdesk-$(VERSION)-$$os-$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' \
			-o "dist/ledgerdesk-$(VERSION)-$$os-$$arch" ./cmd/ledgerdesk; \
	done
	cd dist && sha256sum ledgerdesk-* > SHA256SUMS && cat SHA256SUMS

## docker: build the container image ledgerdesk:$(VERSION) (needs a Docker engine)
docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg BUILT=$(BUILT) \
		-t ledgerdesk:$(VERSION) .

## docs: write docs/configuration.md from the flag declarations
docs:
	$(GO) run ./cmd/ledgerdesk config-reference > docs/configuration.md.tmp
	mv docs/configuration.md.tmp docs/configuration.md

## deploy-check: the release binaries are static and name their version;
## deploy/ passes systemd-analyze verify and nginx -t where installed
deploy-check: release
	VERSION=$(VERSION) ./.ci/deploy-check

## test: install what the tests need, then run the whole suite
test:
	./.ci/test

## screenshots: a full-page PNG of every screen, for every role, at 1440
## and 390 px wide, into screenshots/ (git ignores it); needs chromium
screenshots: node_modules/.package-lock.json
	rm -rf screenshots && mkdir -p screenshots
	LEDGERDESK_SCREENSHOTS=$(CURDIR)/screenshots CI=true $(GO) test -count=1 -run 'TestBrowser_A11yEveryScreen' ./cmd/ledgerdesk/
	@echo "screenshots in screenshots/: $$(ls screenshots | wc -l) files"

## lint: gofmt (a check: it rewrites nothing), go vet and staticcheck
lint:
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
		test -z "$$unformatted" || (echo "gofmt needed: $$unformatted"; exit 1)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## generate: regenerate templ code and the CSS (both are committed)
generate: templ css

templ:
	$(GO) tool templ generate

css: node_modules/.package-lock.json
	npm run --silent build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

## check-generated: fail if generated files differ from what is committed
check-generated: generate
	@git diff --exit-code --stat -- views static || \
		(echo "generated files are stale: run 'make generate' and commit" && exit 1)
	@test -z "$$(git status --porcelain -- views static)" || \
		(git status --porcelain -- views static; echo "untracked generated files: run 'make generate' and commit" && exit 1)

clean:
	rm -rf bin dist
