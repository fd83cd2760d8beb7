# Ledgerdesk. `make run` starts the portal, `make test` runs every test.
GO ?= go

.PHONY: run build test lint generate templ css check-generated screenshots clean

## run: start the portal on the embedded SQLite database (./data)
run:
	$(GO) run ./cmd/ledgerdesk

## build: build the binary into bin/
build:
	$(GO) build -o bin/ledgerdesk ./cmd/ledgerdesk

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
	rm -rf bin
