// Command bench compares bootc's image import (containers/image pull into a
// containers-storage store, then the streaming importer into an ostree repo) with the
// command-line pipeline that does the same job (skopeo copy into an OCI layout, then
// `ostree commit --tree=tar=` per layer) on generated images of about 100 MiB and 1 GiB,
// and measures re-importing an image in which one small layer changed. It prints a table of
// wall time and peak memory. Run as root: `make bench`.
package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"go.podman.io/storage/pkg/reexec"
	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/deploy"
	"github.com/bootc-go/bootc/internal/imgref"
	"github.com/bootc-go/bootc/internal/importer"
	"github.com/bootc-go/bootc/internal/progress"
	"github.com/bootc-go/bootc/ostree"
	"github.com/bootc-go/bootc/storage"
	"github.com/bootc-go/bootc/storage/storagetest"
)

func main() {
	if reexec.Init() {
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "import" || os.Args[1] == "gen") {
		// Child processes: measured imports, and image generation (kept out of the driver
		// so that its memory does not count in the children's peak RSS).
		child := childImport
		if os.Args[1] == "gen" {
			child = childGen
		}
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, os.Args[1]+":", err)
			os.Exit(1)
		}
		return
	}
	sizes := flag.String("sizes", "100,1024", "image sizes to generate, in MiB, comma-separated")
	work := flag.String("work", "", "work directory (default: a new tmpfs under /var/tmp)")
	flag.Parse()
	if err := run(*sizes, *work); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// childImport is the measured process: pull + import of one image.
func childImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	src := fs.String("src", "", "oci:DIR:TAG")
	root := fs.String("storage", "", "graph root")
	runRoot := fs.String("runroot", "", "run root")
	repoPath := fs.String("repo", "", "ostree repo")
	policy := fs.String("policy", "", "policy.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Options{Root: *root, RunRoot: *runRoot, Driver: "overlay",
		TempDir: filepath.Join(filepath.Dir(*root), "tmp"), Log: zerolog.Nop()})
	if err != nil {
		return err
	}
	defer store.Close()
	repo, err := ostree.OpenRepo(ctx, *repoPath)
	if err != nil {
		return err
	}
	defer repo.Close()
	ref, err := imgref.Parse("ostree-unverified-image:" + *src)
	if err != nil {
		return err
	}
	start := time.Now()
	var pulled time.Duration
	f, err := deploy.Fetch(ctx, store, repo, ref, deploy.FetchOptions{
		Pull:     storage.PullOptions{SignaturePolicy: *policy},
		Import:   importer.Options{Rules: importer.DefaultRules()},
		Progress: pullTimer{start: start, pulled: &pulled},
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d %d %d %.2f %.2f\n", f.Import.Imported, f.Import.Reused, f.Image.Report.BytesFetched,
		pulled.Seconds(), (time.Since(start) - pulled).Seconds())
	return nil
}

// pullTracker notes when the pull ends (the first Done).
type pullTimer struct {
	progress.Nop
	start  time.Time
	pulled *time.Duration
}

func (p pullTimer) Done() {
	if *p.pulled == 0 {
		*p.pulled = time.Since(p.start)
	}
}

// result is one measured run.
type result struct {
	wall    time.Duration
	peakRSS int64 // KiB
	note    string
}

// measure runs cmd and returns its wall time and peak RSS (of the process and its
// descendants that were waited for).
func measure(cmd *exec.Cmd) (result, string, error) {
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	start := time.Now()
	err := cmd.Run()
	r := result{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.peakRSS = ru.Maxrss
	}
	return r, out.String(), err
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
	addDir := func(p string) {
		for d := filepath.Dir(p); d != "." && d != "usr" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
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
		addDir(p)
		files = append(files, storagetest.File{Path: p, Mode: 0o644, Content: content(r, n)})
		total += n
	}
	var out []storagetest.File
	for d := range dirs {
		out = append(out, storagetest.File{Path: d + "/", Type: tar.TypeDir, Mode: 0o755})
	}
	// Parents before children: sort directories by depth, then name.
	sortFiles(out)
	return append(out, files...)
}

func sortFiles(fs []storagetest.File) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && less(fs[j], fs[j-1]); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

func less(a, b storagetest.File) bool {
	da, db := strings.Count(a.Path, "/"), strings.Count(b.Path, "/")
	if da != db {
		return da < db
	}
	return a.Path < b.Path
}

// genInfo is what the driver needs to know of a generated image.
type genInfo struct {
	Ref       string
	Tag       string
	Layers    []genLayerInfo
	TarBytes  int64
	BlobBytes int64
}

type genLayerInfo struct {
	Digest string
	Size   int64
}

// childGen generates v1 and v2 into -dir and prints their description as JSON.
func childGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	dir := fs.String("dir", "", "OCI layout directory")
	mib := fs.Int("mib", 100, "image size in MiB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	v1, v2, err := genImage(*dir, *mib)
	if err != nil {
		return err
	}
	var out []genInfo
	for _, img := range []*storagetest.Image{v1, v2} {
		gi := genInfo{Ref: img.Reference(), Tag: img.Tag}
		for _, l := range img.Layers {
			gi.Layers = append(gi.Layers, genLayerInfo{Digest: l.Digest.Encoded(), Size: l.Size})
			gi.TarBytes += int64(len(l.Tar))
			gi.BlobBytes += l.Size
		}
		out = append(out, gi)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// genImage writes v1 and v2 (the last, small layer changed) of an image of about sizeMiB.
func genImage(dir string, sizeMiB int) (v1, v2 *storagetest.Image, err error) {
	r := rand.New(rand.NewPCG(uint64(sizeMiB), 42))
	size := sizeMiB << 20
	kernel := []storagetest.File{
		{Path: "usr/", Type: tar.TypeDir, Mode: 0o755}, {Path: "usr/lib/", Type: tar.TypeDir, Mode: 0o755},
		{Path: "usr/lib/modules/", Type: tar.TypeDir, Mode: 0o755}, {Path: "usr/lib/modules/6.1.0/", Type: tar.TypeDir, Mode: 0o755},
		{Path: "usr/lib/modules/6.1.0/vmlinuz", Mode: 0o644, Content: content(r, 8<<20)},
		// Enough of an OS for libostree to deploy it (the kill trials deploy these images).
		{Path: "usr/lib/os-release", Mode: 0o644, Content: []byte("ID=bench\nVERSION_ID=" + strconv.Itoa(sizeMiB) + "\n")},
		{Path: "etc/", Type: tar.TypeDir, Mode: 0o755},
		{Path: "etc/hostname", Mode: 0o644, Content: []byte("bench\n")},
	}
	layers := [][]storagetest.File{
		append(kernel, genLayer(r, "base", size*85/100)...),
		genLayer(r, "l1", size*5/100),
		genLayer(r, "l2", size*5/100),
		genLayer(r, "l3", size*5/100),
	}
	small := func(v string) []storagetest.File {
		return []storagetest.File{{Path: "usr/", Type: tar.TypeDir, Mode: 0o755},
			{Path: "usr/version", Mode: 0o644, Content: append([]byte(v+"\n"), content(r, 100<<10)...)}}
	}
	labels := map[string]string{"containers.bootc": "1"}
	if v1, err = storagetest.WriteOCI(dir, "v1", storagetest.ImageSpec{Layers: append(layers, small("1")), Labels: labels}); err != nil {
		return nil, nil, err
	}
	v2, err = storagetest.WriteOCI(dir, "v2", storagetest.ImageSpec{Layers: append(layers, small("2")), Labels: labels})
	return v1, v2, err
}

func run(sizesFlag, work string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (containers-storage overlay, bare ostree repositories)")
	}
	for _, tool := range []string{"skopeo", "ostree"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("needs %s: %w", tool, err)
		}
	}
	if work == "" {
		if err := os.MkdirAll("/var/tmp", 0o755); err != nil {
			return err
		}
		d, err := os.MkdirTemp("/var/tmp", "bootc-bench-")
		if err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", d, "tmpfs", 0, "size=12g"); err != nil {
			return fmt.Errorf("mounting tmpfs on %s: %w", d, err)
		}
		defer func() {
			unmountAll(d)
			os.RemoveAll(d)
		}()
		work = d
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	policy := filepath.Join(work, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "image\tstep\tpipeline\twall s\tpeak RSS MiB\tnote\t")
	for _, s := range strings.Split(sizesFlag, ",") {
		var mib int
		if _, err := fmt.Sscan(s, &mib); err != nil {
			return fmt.Errorf("size %q: %w", s, err)
		}
		dir := filepath.Join(work, fmt.Sprintf("img%d", mib))
		fmt.Fprintf(os.Stderr, "generating a %d MiB image...\n", mib)
		gen := exec.Command(self, "gen", "-dir", filepath.Join(dir, "oci"), "-mib", fmt.Sprint(mib))
		gen.Stderr = os.Stderr
		out, err := gen.Output()
		if err != nil {
			return fmt.Errorf("generating: %w", err)
		}
		var imgs []genInfo
		if err := json.Unmarshal(out, &imgs); err != nil || len(imgs) != 2 {
			return fmt.Errorf("generator output: %v", err)
		}
		v1, v2 := &imgs[0], &imgs[1]
		name := fmt.Sprintf("%d MiB (%d MiB gz, %d layers)", v1.TarBytes>>20, v1.BlobBytes>>20, len(v1.Layers))
		fmt.Fprintf(os.Stderr, "measuring %s...\n", name)
		rows, err := benchOne(self, dir, policy, v1, v2)
		if err != nil {
			return err
		}
		for _, row := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%d\t%s\t\n", name, row.step, row.pipeline, row.wall.Seconds(), row.peakRSS/1024, row.note)
		}
		os.RemoveAll(dir)
	}
	return tw.Flush()
}

type row struct {
	step, pipeline string
	result
}

func benchOne(self, dir, policy string, v1, v2 *genInfo) ([]row, error) {
	var rows []row
	// Ours: one store and repo for v1 then v2.
	store, runRoot, repo := filepath.Join(dir, "storage"), filepath.Join(dir, "run"), filepath.Join(dir, "repo")
	if _, err := exec.Command("ostree", "--repo="+repo, "init", "--mode=bare").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ostree init: %w", err)
	}
	for _, img := range []*genInfo{v1, v2} {
		r, out, err := measure(exec.Command(self, "import", "-src", img.Ref, "-storage", store,
			"-runroot", runRoot, "-repo", repo, "-policy", policy))
		if err != nil {
			return nil, fmt.Errorf("bootc import of %s: %w", img.Ref, err)
		}
		var imported, reused int
		var fetched int64
		var pull, imp float64
		fmt.Sscan(out, &imported, &reused, &fetched, &pull, &imp)
		r.note = fmt.Sprintf("pull %.2fs + import %.2fs; %d layers imported, %d reused, %.1f MiB fetched", pull, imp, imported, reused, float64(fetched)/(1<<20))
		rows = append(rows, row{step: "v" + img.Tag[1:], pipeline: "bootc pull+import", result: r})
	}
	unmountAll(store)

	// The command-line pipeline, for v1 then v2 (no reuse: it imports every layer again).
	cliRepo := filepath.Join(dir, "cli-repo")
	if _, err := exec.Command("ostree", "--repo="+cliRepo, "init", "--mode=bare").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ostree init: %w", err)
	}
	layout := filepath.Join(dir, "cli-oci")
	for _, img := range []*genInfo{v1, v2} {
		start := time.Now()
		var peak int64
		r, _, err := measure(exec.Command("skopeo", "copy", "--quiet", "--policy", policy, img.Ref, "oci:"+layout+":"+img.Tag))
		if err != nil {
			return nil, fmt.Errorf("skopeo copy: %w", err)
		}
		peak = max(peak, r.peakRSS)
		for i, l := range img.Layers {
			blob := filepath.Join(layout, "blobs", "sha256", l.Digest)
			r, _, err := measure(exec.Command("ostree", "--repo="+cliRepo, "commit", "--branch", fmt.Sprintf("layer/%s/%d", img.Tag, i),
				"--tree=tar="+blob, "--tar-autocreate-parents", "--tar-pathname-filter=^etc,usr/etc", "--no-bindings"))
			if err != nil {
				return nil, fmt.Errorf("ostree commit: %w", err)
			}
			peak = max(peak, r.peakRSS)
		}
		rows = append(rows, row{step: "v" + img.Tag[1:], pipeline: "skopeo copy + ostree commit --tree=tar=",
			result: result{wall: time.Since(start), peakRSS: peak, note: fmt.Sprintf("%d layers committed", len(img.Layers))}})
	}
	rows[1].step, rows[3].step = "v2 (1 small layer changed)", "v2 (1 small layer changed)"
	return []row{rows[0], rows[2], rows[1], rows[3]}, nil
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
