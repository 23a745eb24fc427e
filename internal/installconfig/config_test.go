package installconfig

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// parse parses one drop-in body and returns its [install] table.
func parse(t *testing.T, body string) *Config {
	t.Helper()
	c, _, err := ParseFile("test.toml", []byte(body))
	if err != nil {
		t.Fatalf("ParseFile(%q): %v", body, err)
	}
	if c == nil {
		t.Fatalf("ParseFile(%q): no [install] table", body)
	}
	return c
}

// parseBare parses keys of the [install] table given without the header.
func parseBare(t *testing.T, body string) *Config {
	t.Helper()
	lines := strings.Split(body, "\n")
	var b strings.Builder
	b.WriteString("[install]\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "[") {
			l = "[install." + strings.TrimPrefix(l, "[")
		}
		b.WriteString(l + "\n")
	}
	return parse(t, b.String())
}

// fields returns the config's JSON form as a map, for compact comparisons.
func fields(t *testing.T, c *Config) map[string]any {
	t.Helper()
	b, err := c.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMerge covers upstream's config.rs merge tests (test_parse_config,
// test_parse_filesystems, test_parse_block, test_parse_ostree,
// test_merge_stateroot, test_merge_mount_specs, test_merge_bootupd_skip_boot_uuid,
// test_parse_bootloader, test_parse_enforce_container_sigpolicy).
func TestMerge(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		other string
		arch  string
		canon bool
		want  map[string]string // JSON key -> JSON value
	}{
		{"root-fs-type overridden", `root-fs-type = "xfs"`, `root-fs-type = "ext4"`, "x86_64", false,
			map[string]string{"root-fs-type": `"ext4"`, "filesystem": "null"}},
		{"root-fs-type canonicalized into filesystem.root.type", `root-fs-type = "xfs"`, `root-fs-type = "ext4"`, "x86_64", true,
			map[string]string{"root-fs-type": `"ext4"`, "filesystem": `{"root":{"type":"ext4"}}`}},
		{"kargs and karg-deletes appended",
			"root-fs-type = \"ext4\"\nkargs = [\"console=ttyS0\", \"foo=bar\"]\nkarg-deletes = [\"debug\", \"bar=baz\"]",
			"kargs = [\"console=tty0\", \"nosmt\"]\nkarg-deletes = [\"baz\", \"bar=baz\"]", "x86_64", false,
			map[string]string{"root-fs-type": `"ext4"`,
				"kargs":        `["console=ttyS0","foo=bar","console=tty0","nosmt"]`,
				"karg-deletes": `["debug","bar=baz","baz","bar=baz"]`}},
		{"kargs into unset kargs", `root-fs-type = "xfs"`, `kargs = ["console=tty0", "nosmt"]`, "aarch64", false,
			map[string]string{"kargs": `["console=tty0","nosmt"]`}},
		{"filesystem.root.type overridden", "[filesystem.root]\ntype = \"xfs\"", "[filesystem.root]\ntype = \"ext4\"", "x86_64", false,
			map[string]string{"filesystem": `{"root":{"type":"ext4"}}`}},
		{"filesystem.root.type wins over root-fs-type", "root-fs-type = \"xfs\"", "[filesystem.root]\ntype = \"btrfs\"", "x86_64", true,
			map[string]string{"root-fs-type": `"btrfs"`, "filesystem": `{"root":{"type":"btrfs"}}`}},
		{"empty filesystem table keeps root", "[filesystem.root]\ntype = \"xfs\"", "[filesystem]", "x86_64", false,
			map[string]string{"filesystem": `{"root":{"type":"xfs"}}`}},
		{"block replaced whole", `block = ["direct", "tpm2-luks"]`, `block = []`, "x86_64", false,
			map[string]string{"block": `[]`}},
		{"block defaults to direct", "[filesystem.root]\ntype = \"xfs\"", ``, "x86_64", true,
			map[string]string{"block": `["direct"]`}},
		{"ostree overridden", "[ostree]\nbls-append-except-default = \"console=ttyS0\"", "[ostree]\nbls-append-except-default = \"console=tty0\"", "x86_64", false,
			map[string]string{"ostree": `{"bls-append-except-default":"console=tty0"}`}},
		{"ostree unset in other keeps value", "[ostree]\nbls-append-except-default = \"console=ttyS0\"", "[ostree]", "x86_64", false,
			map[string]string{"ostree": `{"bls-append-except-default":"console=ttyS0"}`}},
		{"stateroot overridden", `stateroot = "original"`, `stateroot = "newroot"`, "x86_64", false,
			map[string]string{"stateroot": `"newroot"`}},
		{"mount specs: only the set one overridden", "root-mount-spec = \"UUID=old\"\nboot-mount-spec = \"UUID=oldboot\"", `root-mount-spec = "LABEL=newroot"`, "x86_64", false,
			map[string]string{"root-mount-spec": `"LABEL=newroot"`, "boot-mount-spec": `"UUID=oldboot"`}},
		{"empty mount spec overrides", `root-mount-spec = "UUID=old"`, `root-mount-spec = ""`, "x86_64", false,
			map[string]string{"root-mount-spec": `""`}},
		{"bootupd skip-boot-uuid overridden", "[bootupd]\nskip-boot-uuid = false", "[bootupd]\nskip-boot-uuid = true", "x86_64", false,
			map[string]string{"bootupd": `{"skip-boot-uuid":true}`}},
		{"bootloader overridden", `bootloader = "systemd"`, `bootloader = "none"`, "x86_64", false,
			map[string]string{"bootloader": `"none"`}},
		{"discoverable-partitions overridden", `discoverable-partitions = true`, `discoverable-partitions = false`, "x86_64", false,
			map[string]string{"discoverable-partitions": `false`}},
		{"enforce-container-sigpolicy last wins", `enforce-container-sigpolicy = false`, `enforce-container-sigpolicy = true`, "x86_64", false,
			map[string]string{"enforce-container-sigpolicy": `true`}},
		{"unset values do not override", "stateroot = \"a\"\nbootloader = \"grub\"", "kargs = []", "x86_64", false,
			map[string]string{"stateroot": `"a"`, "bootloader": `"grub"`, "kargs": `[]`}},
		// upstream test_arch
		{"other arch skipped", `root-fs-type = "xfs"`, "kargs = [\"console=ttyS0\", \"foo=bar\"]\nmatch-architectures = [\"x86_64\"]\nstateroot = \"x\"", "aarch64", false,
			map[string]string{"kargs": "", "stateroot": "null"}},
		{"this arch merged", `root-fs-type = "xfs"`, "kargs = [\"console=tty0\", \"nosmt\"]\nmatch-architectures = [\"aarch64\"]", "aarch64", false,
			map[string]string{"kargs": `["console=tty0","nosmt"]`, "match-architectures": "null"}},
		{"two arches, x86_64", `root-fs-type = "xfs"`, "kargs = [\"console=tty0\", \"nosmt\"]\nmatch-architectures = [\"x86_64\", \"aarch64\"]", "x86_64", false,
			map[string]string{"kargs": `["console=tty0","nosmt"]`}},
		{"two arches, aarch64", `root-fs-type = "xfs"`, "kargs = [\"console=tty0\", \"nosmt\"]\nmatch-architectures = [\"x86_64\", \"aarch64\"]", "aarch64", false,
			map[string]string{"kargs": `["console=tty0","nosmt"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseBare(t, tt.base)
			c.Merge(parseBare(t, tt.other), tt.arch)
			if tt.canon {
				c.Canonicalize()
			}
			got := fields(t, c)
			for k, want := range tt.want {
				v, present := got[k]
				if want == "" {
					if present {
						t.Errorf("%s present (%s), want absent", k, jsonOf(t, v))
					}
					continue
				}
				if !present {
					t.Errorf("%s absent, want %s", k, want)
					continue
				}
				if g := jsonOf(t, v); g != want {
					t.Errorf("%s = %s, want %s", k, g, want)
				}
			}
		})
	}
}

func TestMergeDoesNotAlias(t *testing.T) {
	c := parseBare(t, `stateroot = "a"`)
	o := parseBare(t, "stateroot = \"b\"\nblock = [\"direct\"]")
	c.Merge(o, "x86_64")
	*o.Stateroot = "changed"
	o.Block[0] = BlockTPM2LUKS
	if *c.Stateroot != "b" || c.Block[0] != BlockDirect {
		t.Errorf("merged config shares storage with its source: %q %q", *c.Stateroot, c.Block)
	}
	c.Merge(nil, "x86_64") // no-op
}

func TestBlockSetupFor(t *testing.T) {
	direct, luks := BlockDirect, BlockTPM2LUKS
	tests := []struct {
		name      string
		body      string
		requested *BlockSetup
		want      BlockSetup
		wantErr   string
	}{
		{"default is direct", "[filesystem.root]\ntype = \"xfs\"", nil, BlockDirect, ""},
		{"first listed is default", `block = ["tpm2-luks"]`, nil, BlockTPM2LUKS, ""},
		{"requested enabled", `block = ["direct", "tpm2-luks"]`, &luks, BlockTPM2LUKS, ""},
		{"requested not enabled", `block = ["tpm2-luks"]`, &direct, "", "not enabled"},
		{"empty list", `block = []`, nil, "", "empty block storage configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseBare(t, tt.body)
			c.Canonicalize()
			got, err := c.BlockSetupFor(tt.requested)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseFileValues(t *testing.T) {
	c := parse(t, `[install.filesystem.root]
type = "xfs"

[install]
kargs = ["nosmt", "console=tty0"]
stateroot = "myos"
root-mount-spec = "LABEL=rootfs"
boot-mount-spec = "UUID=abcd-1234"
enforce-container-sigpolicy = true

[install.ostree]
bls-append-except-default = 'grub_users=""'
`)
	if got := c.RootFilesystem(); got == nil || *got != FilesystemXFS {
		t.Errorf("root filesystem = %v", got)
	}
	if !slices.Equal(c.Kargs, []string{"nosmt", "console=tty0"}) {
		t.Errorf("kargs = %q", c.Kargs)
	}
	if c.StaterootName() != "myos" || *c.RootMountSpec != "LABEL=rootfs" || *c.BootMountSpec != "UUID=abcd-1234" || !*c.EnforceContainerSigpolicy {
		t.Errorf("unexpected values: %+v", c)
	}
	if got := c.Ostree.ConfigTuples(); len(got) != 1 || got[0] != [2]string{"sysroot.bls-append-except-default", `grub_users=""`} {
		t.Errorf("ostree tuples = %q", got)
	}
	if (*Config)(nil).StaterootName() != DefaultStateroot || (&Config{}).StaterootName() != "default" {
		t.Error("default stateroot")
	}
	if (*OstreeRepoOpts)(nil).ConfigTuples() != nil {
		t.Error("nil ostree opts have tuples")
	}

	for _, tc := range []struct{ in, want string }{
		{"console=ttyS0", "console=ttyS0"},
		{"console=ttyS0,115200n8", "console=ttyS0,115200n8"},
		{"rd.lvm.lv=vg/root", "rd.lvm.lv=vg/root"},
	} {
		c := parse(t, "[install.ostree]\nbls-append-except-default = \""+tc.in+"\"\n")
		if *c.Ostree.BLSAppendExceptDefault != tc.want {
			t.Errorf("bls-append-except-default = %q, want %q", *c.Ostree.BLSAppendExceptDefault, tc.want)
		}
	}
	for _, tc := range []struct {
		body string
		want *bool
	}{
		{"[install]\ndiscoverable-partitions = true", ptr(true)},
		{"[install]\ndiscoverable-partitions = false", ptr(false)},
		{"[install]\nroot-fs-type = \"xfs\"", nil},
	} {
		c := parse(t, tc.body)
		if (c.DiscoverablePartitions == nil) != (tc.want == nil) || tc.want != nil && *c.DiscoverablePartitions != *tc.want {
			t.Errorf("%q: discoverable-partitions = %v", tc.body, c.DiscoverablePartitions)
		}
	}
	for _, b := range []string{"none", "grub", "grub-cc", "systemd"} {
		c := parse(t, "[install]\nbootloader = \""+b+"\"")
		if string(*c.Bootloader) != b {
			t.Errorf("bootloader = %q, want %q", *c.Bootloader, b)
		}
	}
	c = parse(t, "[install]\nroot-mount-spec = \"\"\nboot-mount-spec = \"\"")
	if *c.RootMountSpec != "" || *c.BootMountSpec != "" {
		t.Error("empty mount specs not kept")
	}
	c = parse(t, "[install.bootupd]\nskip-boot-uuid = true")
	if !*c.Bootupd.SkipBootUUID {
		t.Error("skip-boot-uuid")
	}
	if parse(t, "[install]\nroot-fs-type = \"xfs\"").Bootupd != nil {
		t.Error("bootupd set without table")
	}
}

func ptr[T any](v T) *T { return &v }

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantErr  string
		wantLine int
	}{
		{"unknown install key", "[install]\nroot-fs-type = \"xfs\"\nfoo = 1\n", "test.toml:3:1: unknown field `foo`", 3},
		{"unknown top-level table", "[other]\nx = 1\n", "test.toml:1:2: unknown field `other`, expected `install`", 1},
		{"documented match_architectures spelling is unknown", "[install]\nmatch_architectures = [\"x86_64\"]\n", "unknown field `match_architectures`", 2},
		{"keys are case-sensitive", "[install]\nStateroot = \"x\"\n", "unknown field `Stateroot`", 2},
		{"unknown filesystem", "[install]\nroot-fs-type = \"zfs\"\n", "test.toml:2:16: unknown variant `zfs`, expected one of `xfs`, `ext4`, `btrfs`", 2},
		{"unknown filesystem in table", "[install.filesystem.root]\ntype = \"ntfs\"\n", "test.toml:2:8: unknown variant `ntfs`", 2},
		{"unknown filesystem key", "[install.filesystem.root]\ntype = \"xfs\"\nsize = 1\n", "unknown field `size`, expected `type`", 3},
		{"unknown filesystem kind", "[install.filesystem.var]\n", "unknown field `var`, expected `root`", 1},
		{"unknown block", "[install]\nblock = [\"direct\", \"lvm\"]\n", "test.toml:2:20: unknown variant `lvm`, expected `direct` or `tpm2-luks`", 2},
		{"unknown bootloader", "[install]\nbootloader = \"lilo\"\n", "unknown variant `lilo`", 2},
		{"bootloader not a string", "[install]\nbootloader = 3\n", "test.toml:2:14: invalid type for `install.bootloader`", 2},
		{"kargs not strings", "[install]\nkargs = [\"a\", 1]\n", "test.toml:2:15:", 2},
		{"stateroot not a string", "[install]\nstateroot = 1\n", "test.toml:2:13:", 2},
		{"unknown bootupd key", "[install.bootupd]\nskip-uuid = true\n", "unknown field `skip-uuid`", 2},
		{"inline table unknown key", "[install]\nfilesystem = { root = { type = \"btrfs\", x = 1 } }\n", "test.toml:2:41: unknown field `x`", 2},
		{"syntax error", "[install\n", "test.toml:1:", 1},
		{"duplicate table", "[install]\n[install]\n", "test.toml:2:", 2},
		{"array of tables", "[[install]]\n", "test.toml:", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseFile("test.toml", []byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != "test.toml" {
				t.Fatalf("error %#v is not a FileError for test.toml", err)
			}
			if tt.wantLine >= 0 && fe.Line != tt.wantLine {
				t.Errorf("line %d, want %d", fe.Line, tt.wantLine)
			}
		})
	}
}

func TestParseFileWarnings(t *testing.T) {
	c, w, err := ParseFile("x.toml", []byte("[install.ostree]\nfoo = 1\nbar.baz = 2\nbls-append-except-default = \"quiet\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"x.toml: unknown key install.ostree.bar", "x.toml: unknown key install.ostree.foo"}
	if !slices.Equal(w, want) {
		t.Errorf("warnings %q, want %q", w, want)
	}
	if *c.Ostree.BLSAppendExceptDefault != "quiet" {
		t.Error("known key lost")
	}
	c, w, err = ParseFile("x.toml", []byte(""))
	if c != nil || w != nil || err != nil {
		t.Errorf("empty file: %v %v %v", c, w, err)
	}
}

func TestCanonicalJSON(t *testing.T) {
	c := parse(t, "[install]\nroot-fs-type = \"xfs\"\nkargs = [\"a<b\"]\n")
	c.Canonicalize()
	got, err := c.CanonicalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"block":["direct"],"boot-mount-spec":null,"bootloader":null,"bootupd":null,` +
		`"discoverable-partitions":null,"enforce-container-sigpolicy":null,"filesystem":{"root":{"type":"xfs"}},` +
		`"kargs":["a<b"],"match-architectures":null,"ostree":null,"root-fs-type":"xfs","root-mount-spec":null,"stateroot":null}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	c.FilterToExternal()
	got, _ = c.CanonicalJSON()
	if strings.Contains(string(got), "kargs") {
		t.Errorf("FilterToExternal left kargs: %s", got)
	}
	got, _ = (&Config{}).CanonicalJSON()
	if !strings.HasPrefix(string(got), `{"block":null,`) || strings.Contains(string(got), "kargs") {
		t.Errorf("empty config: %s", got)
	}
	got, _ = (&Config{Ostree: &OstreeRepoOpts{}, Bootupd: &Bootupd{}, Filesystem: &BasicFilesystems{}}).CanonicalJSON()
	for _, s := range []string{`"ostree":{}`, `"bootupd":{"skip-boot-uuid":null}`, `"filesystem":{"root":null}`} {
		if !strings.Contains(string(got), s) {
			t.Errorf("%s missing from %s", s, got)
		}
	}
}

func TestParseFilesystem(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{{"xfs", true}, {"ext4", true}, {"btrfs", true}, {"zfs", false}, {"XFS", false}} {
		if _, err := ParseFilesystem(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseFilesystem(%q): %v", tc.in, err)
		}
	}
	var b BlockSetup
	if b.UnmarshalText([]byte("tpm2-luks")) != nil || b != BlockTPM2LUKS || b.UnmarshalText([]byte("x")) == nil {
		t.Error("BlockSetup.UnmarshalText")
	}
	var bl Bootloader
	if bl.UnmarshalText([]byte("grub-cc")) != nil || bl != BootloaderGrubCC || bl.UnmarshalText([]byte("x")) == nil {
		t.Error("Bootloader.UnmarshalText")
	}
}
