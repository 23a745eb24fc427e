package lint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/bootc-go/bootc/internal/kargs"
)

// baseimageRef is where a base image may embed the reference root content that
// baseimage-root and baseimage-composefs check as well.
const baseimageRef = "usr/share/doc/bootc/baseimage/base"

// apiDirs are the API filesystem base directories (systemd.io/API_FILE_SYSTEMS) plus /var.
var apiDirs = []string{"dev", "proc", "sys", "run", "tmp", "var"}

// prepareRootConf is ostree-prepare-root's configuration, under etc/ or usr/lib/.
const prepareRootConf = "ostree/prepare-root.conf"

// runtimeInjected are files container runtimes put under /run during a build.
var runtimeInjected = []string{"/run/systemd/resolve/stub-resolv.conf"}

var lints = []Lint{
	{Name: "var-run", Severity: Fatal,
		Description: "Check for /var/run being a physical directory; this is always a bug.",
		check:       checkVarRun},
	{Name: "buildah-injected", Severity: Warning, Root: Alternative,
		Description: "Check for an invalid /etc/hostname or /etc/resolv.conf that may have been injected by\na container build system.",
		check:       checkBuildahInjected},
	{Name: "etc-usretc", Severity: Fatal,
		Description: "Verify that only one of /etc or /usr/etc exist. You should only have /etc\nin a container image. It will cause undefined behavior to have both /etc\nand /usr/etc.\n",
		check:       checkUsrEtc},
	{Name: "bootc-kargs", Severity: Fatal,
		Description: "Verify syntax of /usr/lib/bootc/kargs.d.",
		check:       checkKargs},
	{Name: "kernel", Severity: Fatal,
		Description: "Check for multiple kernels, i.e. multiple directories of the form /usr/lib/modules/$kver.\nOnly one kernel is supported in an image.\n",
		check:       checkKernel},
	{Name: "utf8", Severity: Fatal,
		Description: "Check for non-UTF8 filenames. Currently, the ostree backend of bootc only supports\nUTF-8 filenames. Non-UTF8 filenames will cause a fatal error.\n",
		recursive:   checkUTF8},
	{Name: "api-base-directories", Severity: Fatal,
		Description: "Verify that expected base API directories exist. For more information\non these, see <https://systemd.io/API_FILE_SYSTEMS/>.\n\nNote that in addition, bootc requires that `/var` exist as a directory.\n",
		check:       checkAPIDirs},
	{Name: "baseimage-composefs", Severity: Warning,
		Description: "Check that composefs is enabled for ostree. More in\n<https://ostreedev.github.io/ostree/composefs/>.\n",
		check:       checkComposefs},
	{Name: "baseimage-root", Severity: Fatal,
		Description: "Check that expected files are present in the root of the filesystem; such\nas /sysroot and a composefs configuration for ostree. More in\n<https://bootc.dev/bootc/bootc-images.html#standard-image-content>.\n",
		check:       checkBaseimageRoot},
	{Name: "var-log", Severity: Warning,
		Description: "Check for non-empty regular files in `/var/log`. It is often undesired\nto ship log files in container images. Log files in general are usually\nper-machine state in `/var`. Additionally, log files often include\ntimestamps, causing unreproducible container images, and may contain\nsensitive build system information.\n",
		check:       checkVarLog},
	{Name: "var-tmpfiles", Severity: Warning, Root: Running,
		Description: "Check for content in /var that does not have corresponding systemd tmpfiles.d entries.\nThis can cause a problem across upgrades because content in /var from the container\nimage will only be applied on the initial provisioning.\n\nInstead, it's recommended to have /var effectively empty in the container image,\nand use systemd tmpfiles.d to generate empty directories and compatibility symbolic links\nas part of each boot.\n",
		check:       checkVarTmpfiles},
	{Name: "sysusers", Severity: Warning,
		Description: "Check for users in /etc/passwd and groups in /etc/group that do not have corresponding\nsystemd sysusers.d entries in /usr/lib/sysusers.d.\nThis can cause a problem across upgrades because if /etc is not transient and is locally\nmodified (commonly due to local user additions), then the contents of /etc/passwd in the new container\nimage may not be visible.\n\nUsing systemd-sysusers to allocate users and groups will ensure that these are allocated\non system startup alongside other users.\n\nMore on this topic in <https://bootc.dev/bootc/building/users-and-groups.html>\n",
		check:       checkSysusers},
	{Name: "nonempty-boot", Severity: Warning,
		Description: "The `/boot` directory should be present, but empty. The kernel\ncontent should be in /usr/lib/modules instead in the container image.\nAny content here in the container image will be masked at runtime.\n",
		check:       checkBoot},
	{Name: "nonempty-run-tmp", Severity: Warning,
		Description: "The `/run` and `/tmp` directories should be empty in container images.\nThese directories are normally mounted as `tmpfs` at runtime\n(masking any content in the underlying image) and any content here is typically build-time\nartifacts that serve no purpose in the final image.\n",
		check:       checkRuntimeOnlyDirs},
}

// lstat is root.Lstat with "does not exist" as a nil FileInfo and no error.
func (c *checker) lstat(name string) (fs.FileInfo, error) {
	fi, err := c.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stat /%s: %w", name, err)
	}
	return fi, nil
}

// readFile reads name in the root; ok is false when it does not exist.
func (c *checker) readFile(name string) (data []byte, ok bool, err error) {
	data, err = fs.ReadFile(rootFS{c.root}, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading /%s: %w", name, err)
	}
	return data, true, nil
}

// isDir reports whether name exists and is a directory (following symbolic links
// inside the root).
func (c *checker) isDir(name string) bool {
	fi, err := stat(c.root, name)
	return err == nil && fi.IsDir()
}

func checkVarRun(c *checker) (string, error) {
	fi, err := c.lstat("var/run")
	if err != nil || fi == nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return "Not a symlink: var/run", nil
	}
	return "", nil
}

func checkBuildahInjected(c *checker) (string, error) {
	for _, name := range []string{"etc/hostname", "etc/resolv.conf"} {
		fi, err := c.lstat(name)
		if err != nil {
			return "", err
		}
		if fi != nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			return fmt.Sprintf("/%s is an empty file; this may have been synthesized by a container runtime.", name), nil
		}
	}
	return "", nil
}

func checkUsrEtc(c *checker) (string, error) {
	etc, err := c.lstat("etc")
	if err != nil || etc == nil {
		return "", err
	}
	usrEtc, err := c.lstat("usr/etc")
	if err != nil {
		return "", err
	}
	if usrEtc != nil {
		return "Found /usr/etc - this is a bootc implementation detail and not supported to use in containers", nil
	}
	return "", nil
}

func checkKargs(c *checker) (string, error) {
	if _, _, err := kargs.Load(rootFS{c.root}, c.opts.Arch); err != nil {
		return err.Error(), nil
	}
	return "", nil
}

func checkKernel(c *checker) (string, error) {
	if _, err := KernelDir(c.root); err != nil {
		var multi *MultipleKernelsError
		if errors.As(err, &multi) {
			return err.Error(), nil
		}
		return "", err
	}
	return "", nil
}

func checkUTF8(_ *checker, e *entry) (string, error) {
	if !utf8.ValidString(e.Name) {
		return fmt.Sprintf("%s: Found non-utf8 filename %s", quotePath("/"+path.Dir(e.Path)), debugQuote(e.Name)), nil
	}
	if e.Type == fs.ModeSymlink {
		target, err := readlinkAt(e.parent, e.Name)
		if err != nil {
			return "", fmt.Errorf("reading the symbolic link /%s: %w", e.Path, err)
		}
		if !utf8.ValidString(target) {
			return fmt.Sprintf("%s: Found non-utf8 symlink target", quotePath("/"+e.Path)), nil
		}
	}
	return "", nil
}

// readlinkAt reads the symbolic link name in the open directory dir.
func readlinkAt(dir *os.File, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

func checkAPIDirs(c *checker) (string, error) {
	for _, d := range apiDirs {
		fi, err := c.lstat(d)
		if err != nil {
			return "", err
		}
		if fi == nil {
			return "Missing API filesystem base directory: /" + d, nil
		}
		if !fi.IsDir() {
			return "Expected directory for API filesystem base directory: /" + d, nil
		}
	}
	return "", nil
}

// checkComposefs checks prepare-root.conf in the root and in the embedded reference root.
func checkComposefs(c *checker) (string, error) {
	for _, base := range []string{"", baseimageRef} {
		if base != "" && !c.isDir(base) {
			continue
		}
		problem, err := c.composefsEnabled(base)
		if problem != "" || err != nil {
			return problem, err
		}
	}
	return "", nil
}

// composefsEnabled checks the prepare-root.conf of the tree at base (relative to root):
// etc/ostree/prepare-root.conf, else usr/lib/ostree/prepare-root.conf, must enable an
// overlay root (root.transient, or composefs.enabled anything but off).
func (c *checker) composefsEnabled(base string) (string, error) {
	var conf keyFile
	found := false
	for _, dir := range []string{"etc", "usr/lib"} {
		name := path.Join(base, dir, prepareRootConf)
		data, ok, err := c.readFile(name)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		conf, err = parseKeyFile(data)
		if err != nil {
			return "", fmt.Errorf("parsing /%s: %w", name, err)
		}
		found = true
		break
	}
	if !found {
		return prepareRootConf + " is not present to enable composefs", nil
	}
	transient, err := conf.boolean("root", "transient")
	if err != nil {
		return "", fmt.Errorf("%s: %w", prepareRootConf, err)
	}
	switch strings.ToLower(conf.get("composefs", "enabled")) {
	case "yes", "true", "1", "maybe", "signed", "verity":
		return "", nil
	}
	if transient {
		return "", nil
	}
	return prepareRootConf + " does not have composefs enabled", nil
}

// keyFile is a parsed GLib key file: group -> key -> value.
type keyFile map[string]map[string]string

// parseKeyFile parses the GLib key file syntax prepare-root.conf uses.
func parseKeyFile(data []byte) (keyFile, error) {
	kf := keyFile{}
	group := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			group = line[1 : len(line)-1]
			if kf[group] == nil {
				kf[group] = map[string]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || group == "" {
				return nil, fmt.Errorf("line %d: not a group header nor a key=value line: %q", i+1, line)
			}
			kf[group][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return kf, nil
}

// get returns the value of key in group ("" when absent).
func (kf keyFile) get(group, key string) string {
	return kf[group][key]
}

// boolean returns the boolean value of key in group (false when absent).
func (kf keyFile) boolean(group, key string) (bool, error) {
	switch v := kf.get(group, key); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, fmt.Errorf("[%s] %s: not a boolean: %q", group, key, v)
	}
}

// checkBaseimageRoot checks /sysroot and /ostree in the root and in the embedded
// reference root.
func checkBaseimageRoot(c *checker) (string, error) {
	for _, base := range []string{"", baseimageRef} {
		if base != "" && !c.isDir(base) {
			continue
		}
		fi, err := c.lstat(path.Join(base, "sysroot"))
		if err != nil {
			return "", err
		}
		if fi == nil {
			return "Missing /sysroot", nil
		}
		if !fi.IsDir() {
			return "Expected a directory for /sysroot", nil
		}
		link := path.Join(base, "ostree")
		if fi, err = c.lstat(link); err != nil {
			return "", err
		}
		if fi == nil {
			return "Missing ostree -> sysroot/ostree link", nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return "/ostree should be a symlink", nil
		}
		target, err := c.root.Readlink(link)
		if err != nil {
			return "", fmt.Errorf("reading the symbolic link /%s: %w", link, err)
		}
		if target != "sysroot/ostree" {
			return fmt.Sprintf("Expected /ostree -> sysroot/ostree, not %s", debugQuote(target)), nil
		}
	}
	return "", nil
}

func checkVarLog(c *checker) (string, error) {
	if !c.isDir("var/log") {
		return "", nil
	}
	var found []string
	err := walk(c.root, "var/log", func(e *entry) error {
		if e.Type == 0 && e.Stat.Size > 0 {
			found = append(found, quotePath("/"+e.Path))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return c.items("Found non-empty logfiles", found), nil
}

func checkBoot(c *checker) (string, error) {
	if !c.isDir("boot") {
		return "Missing /boot directory", nil
	}
	entries, err := fs.ReadDir(rootFS{c.root}, "boot")
	if err != nil {
		return "", fmt.Errorf("reading /boot: %w", err)
	}
	var names []string
	for _, e := range entries {
		// A UKI's boot/EFI is expected (upstream works around composefs-rs#131).
		if e.Name() != "EFI" {
			names = append(names, quotePath(e.Name()))
		}
	}
	return c.items("Found non-empty /boot", names), nil
}

// checkRuntimeOnlyDirs looks for content in /run and /tmp, leaving out mount points
// (what the container runtime mounted there for the build) and the stub-resolv.conf
// podman creates.
func checkRuntimeOnlyDirs(c *checker) (string, error) {
	rootDir, err := c.root.Open(".")
	if err != nil {
		return "", fmt.Errorf("opening the root: %w", err)
	}
	defer rootDir.Close()
	var rootSt unix.Stat_t
	if err := unix.Fstat(int(rootDir.Fd()), &rootSt); err != nil {
		return "", fmt.Errorf("stat of the root: %w", err)
	}
	found := map[string]bool{}
	for _, dir := range []string{"run", "tmp"} {
		var st unix.Stat_t
		if err := unix.Fstatat(int(rootDir.Fd()), dir, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return "", fmt.Errorf("stat /%s: %w", dir, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Dev != rootSt.Dev || isMountRoot(rootDir, dir) {
			continue
		}
		err := walk(c.root, dir, func(e *entry) error {
			if !e.mountRoot() {
				found["/"+e.Path] = true
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	for _, known := range runtimeInjected {
		delete(found, known)
		for d := path.Dir(known); d != "/run" && strings.HasPrefix(d, "/run/"); d = path.Dir(d) {
			other := false
			for p := range found {
				if p != d && strings.HasPrefix(p, d+"/") {
					other = true
					break
				}
			}
			if other {
				break
			}
			delete(found, d)
		}
	}
	paths := make([]string, 0, len(found))
	for p := range found {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for i, p := range paths {
		paths[i] = quotePath(p)
	}
	return c.items("Found content in runtime-only directories (/run, /tmp)", paths), nil
}

// nameDB maps numeric ids to names from a root's /etc/passwd or /etc/group.
type nameDB map[uint32]string

// loadNames reads the names of etc/passwd or etc/group (name:x:id:...) in the root, in
// file order; ids maps the numeric ids to the first name holding them.
func (c *checker) loadNames(file string) (names []string, ids nameDB, present bool, err error) {
	data, ok, err := c.readFile(file)
	if err != nil || !ok {
		return nil, nameDB{}, false, err
	}
	ids = nameDB{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if fields[0] == "" {
			continue
		}
		names = append(names, fields[0])
		if len(fields) > 2 {
			var id uint32
			if _, err := fmt.Sscan(fields[2], &id); err == nil {
				if _, dup := ids[id]; !dup {
					ids[id] = fields[0]
				}
			}
		}
	}
	return names, ids, true, sc.Err()
}

// sysusersToken splits the first whitespace-separated (or double-quoted) token off s.
func sysusersToken(s string) (tok, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	if strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return "", "", false
		}
		tok, rest = s[1:1+end], s[2+end:]
	} else if i := strings.IndexAny(s, " \t"); i >= 0 {
		tok, rest = s[:i], s[i:]
	} else {
		tok, rest = s, ""
	}
	return tok, rest, tok != ""
}

// readSysusers returns the users and groups that /usr/lib/sysusers.d/*.conf declare (a
// user declares its group of the same name too).
func (c *checker) readSysusers() (users, groups map[string]bool, err error) {
	users, groups = map[string]bool{}, map[string]bool{}
	const dir = "usr/lib/sysusers.d"
	if !c.isDir(dir) {
		return users, groups, nil
	}
	entries, err := fs.ReadDir(rootFS{c.root}, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading /%s: %w", dir, err)
	}
	for _, e := range entries {
		if path.Ext(e.Name()) != ".conf" || e.Name() == ".conf" {
			continue
		}
		name := path.Join(dir, e.Name())
		data, _, err := c.readFile(name)
		if err != nil {
			return nil, nil, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			typ, rest, ok := sysusersToken(line)
			if !ok {
				return nil, nil, fmt.Errorf("failed to parse sysusers entry from %s: %q", e.Name(), line)
			}
			switch typ {
			case "u", "u!", "g":
				n, _, ok := sysusersToken(rest)
				if !ok {
					return nil, nil, fmt.Errorf("failed to parse sysusers entry from %s: %q", e.Name(), line)
				}
				groups[n] = true
				if typ != "g" {
					users[n] = true
				}
			}
		}
	}
	return users, groups, nil
}

func checkSysusers(c *checker) (string, error) {
	passwd, _, present, err := c.loadNames("etc/passwd")
	if err != nil || !present {
		return "", err
	}
	group, _, _, err := c.loadNames("etc/group")
	if err != nil {
		return "", err
	}
	users, groups, err := c.readSysusers()
	if err != nil {
		return "", err
	}
	missing := func(names []string, declared map[string]bool) []string {
		var out []string
		for _, n := range names {
			if !declared[n] && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out
	}
	return c.items("Found /etc/passwd entry without corresponding systemd sysusers.d", missing(passwd, users)) +
		c.items("Found /etc/group entry without corresponding systemd sysusers.d", missing(group, groups)), nil
}
