package main

import (
	"bytes"
	"context"
	"debug/elf"
	"flag"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// containerfile is the image's recipe, from this package's directory.
const containerfile = "../../Containerfile"

// readContainerfile returns the instructions of the Containerfile, each
// as its keyword and the rest of its line.
func readContainerfile(t *testing.T) [][2]string {
	t.Helper()
	data, err := os.ReadFile(containerfile)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kw, rest, _ := strings.Cut(line, " ")
		out = append(out, [2]string{strings.ToUpper(kw), strings.TrimSpace(rest)})
	}
	return out
}

var staticBinary = flag.String("static-binary", "", "the binary `make static` built, for TestStaticBinary (.ci/run passes it)")

// TestContainerfile checks what the image promises without a container
// engine: the build stage makes the binary with `make static`, whose
// package graph builds without cgo; the final stage is a static base run as
// a non-root user, the data directory is the volume, the exposed port is
// the one serve listens on, and HEALTHCHECK and ENTRYPOINT run the binary
// the build stage copies.
func TestContainerfile(t *testing.T) {
	var final [][2]string // the instructions after the last FROM
	var build string      // the RUN line that builds the binary
	env := map[string]string{}
	for _, in := range readContainerfile(t) {
		switch in[0] {
		case "FROM":
			final = nil
		case "RUN":
			if strings.Contains(in[1], "make static") {
				build = in[1]
			}
		case "ENV":
			for _, kv := range strings.Fields(in[1]) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
		final = append(final, in)
	}
	get := func(kw string) string {
		for _, in := range final {
			if in[0] == kw {
				return in[1]
			}
		}
		t.Errorf("the final stage has no %s", kw)
		return ""
	}
	if u := get("USER"); u == "" || strings.HasPrefix(u, "0") || strings.HasPrefix(u, "root") {
		t.Errorf("USER %q, want a non-root user", u)
	}
	if v := get("VOLUME"); v != env["ALMANAC_DATA"] || v == "" {
		t.Errorf("VOLUME %q, ALMANAC_DATA %q: the data directory must be the volume", v, env["ALMANAC_DATA"])
	}
	if p := get("EXPOSE"); env["ALMANAC_LISTEN"] != "0.0.0.0:"+p {
		t.Errorf("EXPOSE %q, ALMANAC_LISTEN %q: serve must listen on every address at the exposed port", p, env["ALMANAC_LISTEN"])
	}
	m := regexp.MustCompile(`make static STATIC=(\S+)`).FindStringSubmatch(build)
	if m == nil {
		t.Fatalf("the build stage does not run `make static STATIC=OUT`")
	}
	if c := get("COPY"); c != "--from=build "+m[1]+" /usr/bin/almanac" {
		t.Errorf("the final stage's first COPY is %q, want the built %s as /usr/bin/almanac", c, m[1])
	}
	if hc := get("HEALTHCHECK"); !strings.HasSuffix(hc, `CMD ["/usr/bin/almanac", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK %q does not run almanac healthcheck", hc)
	}
	if ep := get("ENTRYPOINT"); ep != `["/usr/bin/almanac"]` {
		t.Errorf("ENTRYPOINT %q, want the binary", ep)
	}
	if cmd := get("CMD"); cmd != `["serve"]` {
		t.Errorf("CMD %q, want serve", cmd)
	}

	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^static:.*\n\tCGO_ENABLED=0 \$\(GO\) build .*-o \$\(STATIC\) \./cmd/almanac$`).Match(makefile) {
		t.Errorf("the Makefile's static target is not `CGO_ENABLED=0 $(GO) build ... -o $(STATIC) ./cmd/almanac`")
	}
	// Without cgo every package of the binary must still have Go files to
	// build: a dependency that needs a C library would fail here.
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", `{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}`, "./cmd/almanac")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("CGO_ENABLED=0 go list -deps ./cmd/almanac: %v\n%s", err, out)
	}
}

// TestStaticBinary checks the binary `make static` built (given with
// -static-binary; .ci/run builds it and runs this test): it is static (no
// interpreter, no shared library), so the distroless base runs it, and its
// healthcheck, with the image's ALMANAC_LISTEN, finds a serving server.
func TestStaticBinary(t *testing.T) {
	if *staticBinary == "" {
		t.Skip("needs -static-binary=PATH from `make static` (.ci/run passes it)")
	}
	f, err := elf.Open(*staticBinary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%s): a distroless static base cannot run it", p.Type)
		}
	}
	srv := startServer(t)
	_, port, _ := net.SplitHostPort(srv.Main.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hc := exec.CommandContext(ctx, *staticBinary, "healthcheck")
	hc.Env = append(os.Environ(), "ALMANAC_LISTEN=0.0.0.0:"+port)
	if out, err := hc.CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Errorf("the static binary's healthcheck: %v\n%s", err, out)
	}
}

// containerTool returns podman, or docker when its engine answers, or ""
// when neither is usable here.
func containerTool() string {
	if p, err := exec.LookPath("podman"); err == nil {
		return p
	}
	if p, err := exec.LookPath("docker"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if exec.CommandContext(ctx, p, "info").Run() == nil {
			return p
		}
	}
	return ""
}

// TestContainerBuild builds the image and runs it with a fresh volume: the
// container's own health check command succeeds and /healthz answers on
// the published port. It needs podman, or docker with a running engine, that
// can pull the base images.
func TestContainerBuild(t *testing.T) {
	tool := containerTool()
	if tool == "" {
		t.Skip("no container tool here: neither podman nor a docker engine that answers")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	tag := "almanac-test:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	buildArgs := []string{"build", "-t", tag, "-f", containerfile}
	if filepath.Base(tool) == "podman" {
		buildArgs = append(buildArgs, "--format", "docker") // HEALTHCHECK is a docker-format field
	}
	run(append(buildArgs, "../..")...)
	id := run("run", "-d", "-p", "127.0.0.1::8080", "-e", "ALMANAC_ADMIN_PASSWORD=container-test", tag)
	t.Cleanup(func() { exec.Command(tool, "rm", "-f", id).Run() })
	for {
		out, err := exec.CommandContext(ctx, tool, "exec", id, "/usr/bin/almanac", "healthcheck").CombinedOutput()
		if err == nil && string(out) == "ok\n" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the container never became healthy: %s\nlogs:\n%s", out, run("logs", id))
		}
		time.Sleep(time.Second)
	}
	if v := run("exec", id, "/usr/bin/almanac", "version"); !strings.HasPrefix(v, "almanac ") {
		t.Errorf("almanac version in the container: %q", v)
	}
	addr := run("port", id, "8080/tcp")
	resp, err := http.Get("http://" + strings.Fields(addr)[0] + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz on the published port %s: %v", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz on the published port: %s", resp.Status)
	}
}
