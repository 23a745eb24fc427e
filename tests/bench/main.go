// Command bench measures what issue 9 of the project promises, side by side in one run, on
// generated bootable images (by default one of about 700 MiB in one layer and one of about
// 1 GiB in five layers), everything on one tmpfs:
//
//   - the first `bootc --sysroot S switch --transport oci` of a fresh sysroot, with the
//     store on the sysroot's filesystem as on a booted host, against the command-line
//     pipeline `gzip -dc layer | ostree commit --tree=tar=` and against
//     `skopeo copy oci: containers-storage:`, each run -rounds times, interleaved, with
//     the ratio to the CLI pipeline per round;
//   - the disk used by the repo and the store after that switch (hardlinks counted once)
//     against the image's file bytes;
//   - the bytes a local registry serves for an update with one small changed layer after
//     the store was reset (`podman system reset`);
//   - the time of a switch to a containers-storage: image read in place.
//
// Run as root, with bin/bootc built: `make bench`.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/storage/storagetest"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gen" {
		// The generator runs in its own process, so that the images it holds in memory do
		// not count in the measured commands' peak RSS (a child forked from a large process
		// starts with that process's RSS as its high-water mark).
		if err := childGen(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench gen:", err)
			os.Exit(1)
		}
		return
	}
	images := flag.String("images", "700:1,1024:5", "images to generate: MiB:layers, comma-separated")
	rounds := flag.Int("rounds", 2, "runs of each first-import variant")
	bootc := flag.String("bootc", "bin/bootc", "the bootc binary")
	work := flag.String("work", "", "work directory (default: a new tmpfs under /var/tmp)")
	flag.Parse()
	b, err := newBench(*bootc, *work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	err = b.run(*images, *rounds)
	b.close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	bootc, work, policy string
	ownWork             bool
	tw                  *tabwriter.Writer
	seq                 int
}

func newBench(bootc, work string) (*bench, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("needs root (sysroots, containers-storage overlay)")
	}
	for _, tool := range []string{"skopeo", "ostree", "podman", "gzip", "du", storagetest.RegistryBinary} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("needs %s: %w", tool, err)
		}
	}
	abs, err := filepath.Abs(bootc)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("bootc binary: %w (run make build)", err)
	}
	b := &bench{bootc: abs, work: work}
	if work == "" {
		if err := os.MkdirAll("/var/tmp", 0o755); err != nil {
			return nil, err
		}
		d, err := os.MkdirTemp("/var/tmp", "bootc-bench-")
		if err != nil {
			return nil, err
		}
		if err := unix.Mount("tmpfs", d, "tmpfs", 0, "size=16g"); err != nil {
			os.Remove(d)
			return nil, fmt.Errorf("mounting tmpfs on %s: %w", d, err)
		}
		b.work, b.ownWork = d, true
	}
	b.policy = filepath.Join(b.work, "policy.json")
	if err := os.WriteFile(b.policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		return nil, err
	}
	b.tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	return b, nil
}

func (b *bench) close() {
	b.tw.Flush()
	unmountAll(b.work)
	if b.ownWork {
		_ = exec.Command("chattr", "-R", "-i", b.work).Run()
		_ = unix.Unmount(b.work, unix.MNT_DETACH)
		os.Remove(b.work)
	}
}

func (b *bench) row(image, what, value, note string) {
	fmt.Fprintf(b.tw, "%s\t%s\t%s\t%s\n", image, what, value, note)
	b.tw.Flush()
}

// genImage is a generated v1 and v2 (v2: one small layer changed or added), as the
// generator process describes it.
type genImage struct {
	Name      string
	Dir       string
	V1, V2    genVersion
	FileBytes int64 // regular-file bytes of v1
	Changed   int64 // blob size of v2's changed layer
}

// genVersion is one tag of the generated image's OCI layout.
type genVersion struct {
	Tag    string
	Layers []digest.Digest
}

func (g *genImage) ref(v genVersion) string { return "oci:" + g.Dir + ":" + v.Tag }

// childGen generates an image (-dir, -mib, -layers) and prints its genImage as JSON.
func childGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	dir := fs.String("dir", "", "OCI layout directory")
	mib := fs.Int("mib", 100, "image size in MiB")
	layers := fs.Int("layers", 1, "number of layers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	img, err := generate(*dir, *mib, *layers)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(img)
}

func (b *bench) run(spec string, rounds int) error {
	fmt.Fprintln(b.tw, "image\tmeasurement\tvalue\tnote")
	for _, s := range strings.Split(spec, ",") {
		mib, layers, ok := strings.Cut(s, ":")
		m, err1 := strconv.Atoi(mib)
		n, err2 := strconv.Atoi(layers)
		if !ok || err1 != nil || err2 != nil || m < 16 || n < 1 {
			return fmt.Errorf("image %q: want MiB:layers", s)
		}
		fmt.Fprintf(os.Stderr, "generating a %d MiB image in %d layers...\n", m, n)
		self, err := os.Executable()
		if err != nil {
			return err
		}
		gen := exec.Command(self, "gen", "-dir", filepath.Join(b.work, fmt.Sprintf("img%d", m)), "-mib", mib, "-layers", layers)
		gen.Stderr = os.Stderr
		out, err := gen.Output()
		if err != nil {
			return fmt.Errorf("generating: %w", err)
		}
		var img genImage
		if err := json.Unmarshal(out, &img); err != nil {
			return fmt.Errorf("generator output: %w", err)
		}
		if err := b.measure(&img, rounds); err != nil {
			return fmt.Errorf("%s: %w", img.Name, err)
		}
		os.RemoveAll(img.Dir)
	}
	return nil
}

func (b *bench) measure(img *genImage, rounds int) error {
	fmt.Fprintf(os.Stderr, "measuring %s...\n", img.Name)
	for r := 1; r <= rounds; r++ {
		// bootc: a fresh sysroot, the store where the booted system will have it.
		sr, err := b.newSysroot()
		if err != nil {
			return err
		}
		store := sysrootStore(sr)
		t, rss, err := b.timed(b.bootcCmd(sr, store, "switch", "--transport", "oci", img.Dir+":v1"))
		if err != nil {
			return fmt.Errorf("bootc switch: %w", err)
		}
		cli, cliRSS, err := b.cliPipeline(img.Dir, img.V1)
		if err != nil {
			return err
		}
		sk, skRSS, err := b.skopeoToStorage(img.ref(img.V1), img.V1.Tag)
		if err != nil {
			return err
		}
		b.row(img.Name, fmt.Sprintf("first switch, round %d", r), fmt.Sprintf("%.2f s", t.Seconds()),
			fmt.Sprintf("%.2f× the CLI pipeline (%.2f s), %.2f× skopeo→containers-storage (%.2f s); peak RSS bootc %d MiB, CLI %d MiB, skopeo %d MiB",
				t.Seconds()/cli.Seconds(), cli.Seconds(), t.Seconds()/sk.Seconds(), sk.Seconds(), rss>>10, cliRSS>>10, skRSS>>10))
		if r == 1 {
			used, err := duTotal(filepath.Join(sr, "ostree/repo"), store)
			if err != nil {
				return err
			}
			b.row(img.Name, "disk: repo + store", fmt.Sprintf("%.1f MiB", float64(used)/(1<<20)),
				fmt.Sprintf("%.2f× the image's %.1f MiB of file bytes (du, hardlinks once)", float64(used)/float64(img.FileBytes), float64(img.FileBytes)/(1<<20)))
		}
		b.cleanup(sr)
	}
	if err := b.updateBytes(img); err != nil {
		return err
	}
	return b.inPlace(img)
}

// updateBytes serves v1 and v2 from a local registry, switches a fresh sysroot to v1,
// resets its store, and counts what the switch to v2 fetches.
func (b *bench) updateBytes(img *genImage) error {
	reg, err := storagetest.StartRegistryIn(filepath.Join(b.work, "registry"))
	if err != nil {
		return err
	}
	defer reg.Stop()
	conf, err := reg.RegistriesConf(b.work)
	if err != nil {
		return err
	}
	for _, v := range []genVersion{img.V1, img.V2} {
		if out, err := exec.Command("skopeo", "copy", "--quiet", "--policy", b.policy, "--dest-tls-verify=false",
			img.ref(v), "docker://"+reg.Host()+"/bench:"+v.Tag).CombinedOutput(); err != nil {
			return fmt.Errorf("pushing %s: %w\n%s", v.Tag, err, out)
		}
	}
	sr, err := b.newSysroot()
	if err != nil {
		return err
	}
	defer b.cleanup(sr)
	store := sysrootStore(sr)
	env := "CONTAINERS_REGISTRIES_CONF=" + conf
	cmd := b.bootcCmd(sr, store, "switch", reg.Host()+"/bench:v1")
	cmd.Env = append(cmd.Env, env)
	if _, _, err := b.timed(cmd); err != nil {
		return fmt.Errorf("switch to v1: %w", err)
	}
	unmountAll(store)
	if out, err := exec.Command("podman", "--root", store, "--runroot", filepath.Join(b.work, "podman-run"),
		"--storage-driver", "overlay", "system", "reset", "--force").CombinedOutput(); err != nil {
		return fmt.Errorf("podman system reset: %w\n%s", err, out)
	}
	reg.Counter.Reset()
	cmd = b.bootcCmd(sr, store, "switch", reg.Host()+"/bench:v2")
	cmd.Env = append(cmd.Env, env)
	if _, _, err := b.timed(cmd); err != nil {
		return fmt.Errorf("switch to v2: %w", err)
	}
	var served int64
	for _, st := range reg.Counter.Blobs() {
		served += st.Bytes
	}
	b.row(img.Name, "update after store reset", fmt.Sprintf("%.1f KiB fetched", float64(served)/1024),
		fmt.Sprintf("the changed layer is %.1f KiB; %d requests", float64(img.Changed)/1024, reg.Counter.Requests()))
	return nil
}

// inPlace times a switch to v1 read in place from a containers-storage store.
func (b *bench) inPlace(img *genImage) error {
	store := filepath.Join(b.work, "cs-store")
	defer func() { unmountAll(store); os.RemoveAll(store) }()
	if out, err := exec.Command("skopeo", "copy", "--quiet", "--policy", b.policy, img.ref(img.V1),
		"containers-storage:[overlay@"+store+"+"+runRootOf(store)+"]localhost/bench:v1").CombinedOutput(); err != nil {
		return fmt.Errorf("skopeo copy to containers-storage: %w\n%s", err, out)
	}
	unmountAll(store)
	sr, err := b.newSysroot()
	if err != nil {
		return err
	}
	defer b.cleanup(sr)
	t, rss, err := b.timed(b.bootcCmd(sr, store, "switch", "--transport", "containers-storage", "localhost/bench:v1"))
	if err != nil {
		return fmt.Errorf("switch from containers-storage: %w", err)
	}
	b.row(img.Name, "switch from containers-storage in place", fmt.Sprintf("%.2f s", t.Seconds()), fmt.Sprintf("peak RSS %d MiB", rss>>10))
	return nil
}

func (b *bench) bootcCmd(sysroot, store string, args ...string) *exec.Cmd {
	cmd := exec.Command(b.bootc, append([]string{"--sysroot", sysroot, "--storage-root", store}, args...)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_POLICY_JSON="+b.policy)
	return cmd
}

// cliPipeline imports every layer of img with gzip -dc | ostree commit --tree=tar= into a
// fresh bare repo, and returns the total wall time and the largest peak RSS.
func (b *bench) cliPipeline(dir string, v genVersion) (time.Duration, int64, error) {
	b.seq++
	repo := filepath.Join(b.work, fmt.Sprintf("cli-repo-%d", b.seq))
	defer os.RemoveAll(repo)
	if out, err := exec.Command("ostree", "--repo="+repo, "init", "--mode=bare").CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("ostree init: %w\n%s", err, out)
	}
	var total time.Duration
	var peak int64
	for i, l := range v.Layers {
		blob := filepath.Join(dir, "blobs", l.Algorithm().String(), l.Encoded())
		t, rss, err := b.timed(exec.Command("bash", "-c", fmt.Sprintf(
			"set -o pipefail; gzip -dc %q | ostree --repo=%q commit --branch=layer/%d --tree=tar=/dev/stdin --tar-autocreate-parents --tar-pathname-filter=^etc,usr/etc --no-bindings >/dev/null",
			blob, repo, i)))
		if err != nil {
			return 0, 0, fmt.Errorf("CLI pipeline: %w", err)
		}
		total += t
		peak = max(peak, rss)
	}
	return total, peak, nil
}

// skopeoToStorage copies img into a fresh containers-storage store with skopeo.
func (b *bench) skopeoToStorage(ref, tag string) (time.Duration, int64, error) {
	b.seq++
	store := filepath.Join(b.work, fmt.Sprintf("skopeo-%d", b.seq))
	defer func() { unmountAll(store); os.RemoveAll(store); os.RemoveAll(runRootOf(store)) }()
	t, rss, err := b.timed(exec.Command("skopeo", "copy", "--quiet", "--policy", b.policy, ref,
		"containers-storage:[overlay@"+store+"+"+runRootOf(store)+"]localhost/bench:"+tag))
	if err != nil {
		return 0, 0, fmt.Errorf("skopeo copy: %w", err)
	}
	return t, rss, nil
}

// timed runs cmd and returns its wall time and peak RSS in KiB.
func (b *bench) timed(cmd *exec.Cmd) (time.Duration, int64, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

func (b *bench) newSysroot() (string, error) {
	b.seq++
	sr := filepath.Join(b.work, fmt.Sprintf("sysroot-%d", b.seq))
	if err := os.MkdirAll(sr, 0o755); err != nil {
		return "", err
	}
	for _, args := range [][]string{{"admin", "init-fs", "--modern", sr}, {"admin", "--sysroot=" + sr, "os-init", "default"}} {
		if out, err := exec.Command("ostree", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("ostree %v: %w\n%s", args, err, out)
		}
	}
	return sr, nil
}

func (b *bench) cleanup(sysroot string) {
	unmountAll(sysroot)
	_ = exec.Command("chattr", "-R", "-i", sysroot).Run()
	os.RemoveAll(sysroot)
}

// sysrootStore is the store a booted system of sysroot uses.
func sysrootStore(sysroot string) string {
	return filepath.Join(sysroot, "ostree/deploy/default/var/lib/containers/storage")
}

func runRootOf(store string) string { return store + "-run" }

// duTotal is what du reports for paths together (a hardlinked inode counted once).
func duTotal(paths ...string) (int64, error) {
	var existing []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			existing = append(existing, p)
		}
	}
	out, err := exec.Command("du", append([]string{"-s", "-B1"}, existing...)...).Output()
	if err != nil {
		return 0, fmt.Errorf("du: %w", err)
	}
	var total int64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("du output %q: %w", line, err)
			}
			total += n
		}
	}
	return total, nil
}

// generate writes v1 and v2 of an image of about mib MiB in n layers into dir. v2 changes
// the last small layer (n > 1) or adds one (n == 1).
func generate(dir string, mib, n int) (*genImage, error) {
	r := rand.New(rand.NewPCG(uint64(mib), uint64(n)))
	size := mib << 20
	kernel := []storagetest.File{
		{Path: "usr/", Type: tar.TypeDir, Mode: 0o755}, {Path: "usr/lib/", Type: tar.TypeDir, Mode: 0o755},
		{Path: "usr/lib/modules/", Type: tar.TypeDir, Mode: 0o755}, {Path: "usr/lib/modules/6.1.0/", Type: tar.TypeDir, Mode: 0o755},
		{Path: "usr/lib/modules/6.1.0/vmlinuz", Mode: 0o644, Content: content(r, 8<<20)},
		{Path: "usr/lib/os-release", Mode: 0o644, Content: []byte("ID=bench\nNAME=\"bootc bench\"\nVERSION_ID=1\n")},
		{Path: "etc/", Type: tar.TypeDir, Mode: 0o755},
		{Path: "etc/os-release", Type: tar.TypeSymlink, Linkname: "../usr/lib/os-release"},
	}
	small := func(v string) []storagetest.File {
		return []storagetest.File{{Path: "usr/", Type: tar.TypeDir, Mode: 0o755},
			{Path: "usr/version", Mode: 0o644, Content: append([]byte(v+"\n"), content(r, 100<<10)...)}}
	}
	var layers [][]storagetest.File
	if n == 1 {
		layers = [][]storagetest.File{append(kernel, genLayer(r, "base", size-8<<20)...)}
	} else {
		base := size * 85 / 100
		layers = append(layers, append(kernel, genLayer(r, "base", base)...))
		for i := 1; i < n-1; i++ {
			layers = append(layers, append([]storagetest.File{{Path: "usr/", Type: tar.TypeDir, Mode: 0o755}},
				genLayer(r, fmt.Sprintf("l%d", i), (size-base)/(n-2))...))
		}
		layers = append(layers, small("1"))
	}
	labels := map[string]string{"containers.bootc": "1"}
	v1, err := storagetest.WriteOCI(dir, "v1", storagetest.ImageSpec{Layers: layers, Labels: labels})
	if err != nil {
		return nil, err
	}
	l2 := append([][]storagetest.File{}, layers...)
	if n == 1 {
		l2 = append(l2, small("2"))
	} else {
		l2[n-1] = small("2")
	}
	v2, err := storagetest.WriteOCI(dir, "v2", storagetest.ImageSpec{Layers: l2, Labels: labels})
	if err != nil {
		return nil, err
	}
	img := &genImage{Dir: dir, V1: genVersion{Tag: v1.Tag}, V2: genVersion{Tag: v2.Tag}, Changed: v2.Layers[len(v2.Layers)-1].Size}
	var tarBytes, blobBytes int64
	for _, l := range v1.Layers {
		img.V1.Layers = append(img.V1.Layers, l.Digest)
		tarBytes += int64(len(l.Tar))
		blobBytes += l.Size
		for _, f := range l.Files {
			if f.Type == 0 || f.Type == tar.TypeReg {
				img.FileBytes += int64(len(f.Content))
			}
		}
	}
	for _, l := range v2.Layers {
		img.V2.Layers = append(img.V2.Layers, l.Digest)
	}
	img.Name = fmt.Sprintf("%d MiB (%d MiB gz, %d layers)", tarBytes>>20, blobBytes>>20, len(v1.Layers))
	return img, nil
}

// content returns n bytes that gzip compresses about 2:1 (half random, half text).
func content(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	words := []byte("the quick brown fox jumps over the lazy dog bootc ostree image layer ")
	for i := 0; i < n; {
		chunk := min(n-i, 512)
		if r.IntN(2) == 0 {
			for j := range chunk {
				b[i+j] = byte(r.Uint32())
			}
		} else {
			off := r.IntN(len(words))
			for j := range chunk {
				b[i+j] = words[(off+j)%len(words)]
			}
		}
		i += chunk
	}
	return b
}

// genLayer makes a layer of about size bytes: mostly small files, some medium, a few large,
// in nested directories, as a distribution rootfs has.
func genLayer(r *rand.Rand, prefix string, size int) []storagetest.File {
	var files []storagetest.File
	dirs := map[string]bool{}
	total := 0
	for i := 0; total < size; i++ {
		var n int
		switch x := r.IntN(100); {
		case x < 80:
			n = 1 + r.IntN(16<<10)
		case x < 98:
			n = 64<<10 + r.IntN(960<<10)
		default:
			n = 1<<20 + r.IntN(15<<20)
		}
		n = min(n, size-total+1)
		p := fmt.Sprintf("usr/%s/d%02d/s%02d/f%05d", prefix, i%37, i%11, i)
		for d := filepath.Dir(p); d != "." && d != "usr" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
		files = append(files, storagetest.File{Path: p, Mode: 0o644, Content: content(r, n)})
		total += n
	}
	var out []storagetest.File
	for d := range dirs {
		out = append(out, storagetest.File{Path: d + "/", Type: tar.TypeDir, Mode: 0o755})
	}
	// Parents before children.
	sort.Slice(out, func(i, j int) bool {
		di, dj := strings.Count(out[i].Path, "/"), strings.Count(out[j].Path, "/")
		if di != dj {
			return di < dj
		}
		return out[i].Path < out[j].Path
	})
	return append(out, files...)
}

// unmountAll unmounts everything mounted below dir, deepest first.
func unmountAll(dir string) {
	data, _ := os.ReadFile("/proc/self/mounts")
	lines := strings.Split(string(data), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			if err := unix.Unmount(f[1], 0); err != nil {
				_ = unix.Unmount(f[1], unix.MNT_DETACH)
			}
		}
	}
}
