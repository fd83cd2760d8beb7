package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The files that deploy the portal (Dockerfile, deploy/) are checked
// against the commands' settings here; .ci/deploy-check runs the tools
// that read them (systemd-analyze, nginx -t) and the release binary.

func repoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// settingsByVariable are the commands' settings by their variables,
// serve's where several commands read one.
func settingsByVariable(t *testing.T) map[string]*setting {
	t.Helper()
	cmds, err := describeCommands()
	if err != nil {
		t.Fatal(err)
	}
	byEnv := map[string]*setting{}
	for _, c := range cmds {
		for _, d := range c.settings.declared {
			if d.env != "" && (c.name == "serve" || byEnv[d.env] == nil) {
				byEnv[d.env] = d
			}
		}
	}
	return byEnv
}

// unitLines are a systemd unit's Key=Value lines, section by section.
func unitLines(t *testing.T, text string) map[string][][2]string {
	t.Helper()
	out := map[string][][2]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("unit line %q is not Key=Value", line)
			}
			out[section] = append(out[section], [2]string{k, v})
		}
	}
	return out
}

func unitValues(lines [][2]string, key string) []string {
	var vs []string
	for _, kv := range lines {
		if kv[0] == key {
			vs = append(vs, kv[1])
		}
	}
	return vs
}

// unitEnvironment is what the unit's Environment= lines set.
func unitEnvironment(t *testing.T, service [][2]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, v := range unitValues(service, "Environment") {
		name, value, ok := strings.Cut(v, "=")
		if !ok {
			t.Fatalf("Environment=%s sets nothing", v)
		}
		env[name] = value
	}
	return env
}

// dockerEnv is what the Dockerfile's ENV instructions set.
func dockerEnv(t *testing.T, dockerfile string) map[string]string {
	t.Helper()
	env := map[string]string{}
	joined := strings.ReplaceAll(dockerfile, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "ENV ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %s: write NAME=value", kv)
			}
			env[name] = value
		}
	}
	return env
}

func TestDeployFiles_SetOnlyVariablesServeReadsToValuesItAccepts(t *testing.T) {
	settings := settingsByVariable(t)
	known := func(name string) bool {
		if settings[name] != nil {
			return true
		}
		for _, v := range environmentOnly {
			if v.name == name {
				return true
			}
		}
		return false
	}
	unit := unitLines(t, repoFile(t, "deploy/ledgerdesk.service"))
	for file, env := range map[string]map[string]string{
		"Dockerfile":                dockerEnv(t, repoFile(t, "Dockerfile")),
		"deploy/ledgerdesk.service": unitEnvironment(t, unit["Service"]),
	} {
		if len(env) < 3 {
			t.Errorf("%s sets %d variables, want the data directory, the listener and more", file, len(env))
		}
		for name, value := range env {
			d := settings[name]
			if d == nil {
				t.Errorf("%s sets %s, which serve does not read", file, name)
				continue
			}
			value = strings.ReplaceAll(value, "%S", "/var/lib") // systemd's state directory
			if err := d.parse(value); err != nil {
				t.Errorf("%s sets %s=%s, which serve refuses: %v", file, name, value, err)
			}
		}
	}
	// Every variable the files name, set or commented out, is one the
	// commands read.
	variable := regexp.MustCompile(`\b(?:LEDGERDESK_[A-Z0-9_]+|DATABASE_URL|LISTEN)\b`)
	for _, file := range []string{"Dockerfile", "deploy/ledgerdesk.service", "deploy/ledgerdesk.env.example", "deploy/nginx.conf"} {
		for _, name := range variable.FindAllString(repoFile(t, file), -1) {
			if !known(name) {
				t.Errorf("%s names %s, which no command reads", file, name)
			}
		}
	}
}

func TestSystemdUnit_RunsServeUnprivilegedAndConfined(t *testing.T) {
	unit := unitLines(t, repoFile(t, "deploy/ledgerdesk.service"))
	service := unit["Service"]
	want := map[string]string{
		"ExecStart":               "/usr/local/bin/ledgerdesk serve",
		"EnvironmentFile":         "/etc/ledgerdesk/ledgerdesk.env",
		"DynamicUser":             "yes",
		"StateDirectory":          "ledgerdesk",
		"StateDirectoryMode":      "0700",
		"UMask":                   "0077",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
	}
	for key, value := range want {
		if got := unitValues(service, key); !slices.Equal(got, []string{value}) {
			t.Errorf("[Service] %s=%q, want %s=%s", key, got, key, value)
		}
	}
	if got := unitValues(service, "SystemCallFilter"); !slices.Contains(got, "@system-service") {
		t.Errorf("SystemCallFilter=%q: want the @system-service allow list", got)
	}
	for _, key := range []string{"User", "Group", "ReadWritePaths"} {
		if got := unitValues(service, key); len(got) > 0 {
			t.Errorf("[Service] %s=%q: the dynamic user writes its state directory alone", key, got)
		}
	}
	// The data directory is the state directory, where systemd lets the
	// dynamic user write.
	if env := unitEnvironment(t, service); env["LEDGERDESK_DATA"] != "%S/ledgerdesk" {
		t.Errorf("LEDGERDESK_DATA=%q, want %%S/ledgerdesk (StateDirectory)", env["LEDGERDESK_DATA"])
	}
	// A stop waits for serve's 30 s drain of requests in flight.
	stop := unitValues(service, "TimeoutStopSec")
	var wait time.Duration
	if len(stop) == 1 {
		wait, _ = time.ParseDuration(strings.Replace(stop[0], "min", "m", 1))
	}
	if wait <= 30*time.Second {
		t.Errorf("TimeoutStopSec=%q, want more than serve's 30 s shutdown", stop)
	}
	if got := unitValues(unit["Install"], "WantedBy"); !slices.Equal(got, []string{"multi-user.target"}) {
		t.Errorf("WantedBy=%q", got)
	}
}

func TestDockerfile_StaticBinaryAloneAsANumericUserWithDataOnAVolume(t *testing.T) {
	df := repoFile(t, "Dockerfile")
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		if rest, ok := strings.CutPrefix(line, "FROM "); ok {
			froms = append(froms, strings.Fields(rest)[0])
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:1.26") || froms[1] != "scratch" {
		t.Fatalf("FROM %v: want golang:1.26 to build and scratch to run", froms)
	}
	gomod := repoFile(t, "go.mod")
	if !strings.Contains(gomod, "\ngo 1.26") {
		t.Errorf("go.mod no longer says go 1.26: move the Dockerfile's golang image with it")
	}
	for _, want := range []string{
		"CGO_ENABLED=0 go build -trimpath",
		"-X ledgerdesk/version.version=${VERSION}",
		"-X ledgerdesk/version.commit=${COMMIT}",
		"-X ledgerdesk/version.built=${BUILT}",
		"COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
		"COPY --from=build --chown=65532:65532 /out/data /data",
		"VOLUME /data",
		"EXPOSE 8080",
		"USER 65532:65532",
		`CMD ["/ledgerdesk", "healthcheck"]`,
		`ENTRYPOINT ["/ledgerdesk"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	env := dockerEnv(t, df)
	if env["LEDGERDESK_DATA"] != "/data" || env["LISTEN"] != ":8080" {
		t.Errorf("ENV %v: want LEDGERDESK_DATA=/data and LISTEN=:8080 (EXPOSE 8080)", env)
	}
	ignore := repoFile(t, ".dockerignore")
	for _, want := range []string{".git", "data", "node_modules", "dist"} {
		if !slices.Contains(strings.Fields(ignore), want) {
			t.Errorf(".dockerignore does not keep %s out of the build context", want)
		}
	}
}

func TestNginxConf_ProxiesToTheUnitsListenerWithTheHeadersTheTrustedProxiesSettingReads(t *testing.T) {
	conf := repoFile(t, "deploy/nginx.conf")
	env := unitEnvironment(t, unitLines(t, repoFile(t, "deploy/ledgerdesk.service"))["Service"])
	upstream := regexp.MustCompile(`(?m)^\s*server (\S+);`).FindAllStringSubmatch(conf, -1)
	if len(upstream) != 1 || upstream[0][1] != env["LISTEN"] {
		t.Fatalf("upstream servers %v, want the unit's LISTEN %s alone", upstream, env["LISTEN"])
	}
	host := strings.TrimSuffix(env["LISTEN"], ":8080")
	if !slices.Contains(splitList(env["LEDGERDESK_TRUSTED_PROXIES"]), host) {
		t.Errorf("the unit's trusted proxies %q leave out %s, the address nginx connects from",
			env["LEDGERDESK_TRUSTED_PROXIES"], host)
	}
	for _, want := range []string{
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
		"proxy_set_header X-Forwarded-Proto $scheme;",
		"proxy_set_header Host $host;",
		"ssl_protocols TLSv1.2 TLSv1.3;",
		`add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;`,
		"location = /healthz",
		"location = /readyz",
		"return 301 https://",
		"--trusted-proxies 127.0.0.1,::1",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("deploy/nginx.conf lacks %q", want)
		}
	}
	// Everything goes to the portal's one listener: no other port (the
	// metrics listener's) is reachable through nginx.
	for _, m := range regexp.MustCompile(`proxy_pass\s+([^;]+);`).FindAllStringSubmatch(conf, -1) {
		if m[1] != "http://ledgerdesk" {
			t.Errorf("proxy_pass %s: only the upstream ledgerdesk is proxied", m[1])
		}
	}
	// No cipher without forward secrecy or an AEAD mode.
	ciphers := regexp.MustCompile(`ssl_ciphers ([^;]+);`).FindStringSubmatch(conf)
	if ciphers == nil {
		t.Fatal("no ssl_ciphers")
	}
	for _, c := range strings.Split(ciphers[1], ":") {
		if !strings.HasPrefix(c, "ECDHE-") || !(strings.Contains(c, "GCM") || strings.Contains(c, "CHACHA20-POLY1305")) {
			t.Errorf("cipher %s is not ECDHE with an AEAD", c)
		}
	}
}
