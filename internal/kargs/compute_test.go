package kargs

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestApplyDiff(t *testing.T) {
	tests := []struct {
		name                  string
		current, old, updated string
		want                  string
	}{
		{"nothing changes", "root=UUID=a rw quiet", "quiet", "quiet", "root=UUID=a rw quiet"},
		{"added at the end", "root=UUID=a rw", "", "nosmt console=tty0", "root=UUID=a rw nosmt console=tty0"},
		{"removed", "root=UUID=a rw nosmt quiet", "nosmt", "", "root=UUID=a rw quiet"},
		{"value changed", "rw thirdkarg=bar local", "thirdkarg=bar", "thirdkarg=baz", "rw local thirdkarg=baz"},
		{"added already present locally stays once", "rw quiet", "", "quiet", "rw quiet"},
		{"removed removes every occurrence", "a x=1 b x=1", "x=1", "", "a b"},
		{"removal is by equality, quotes and dashes ignored", `rw foo_bar="a b" c`, `"foo-bar=a b"`, "", "rw c"},
		{"same key other value untouched", "console=ttyS0 console=tty0", "console=ttyS0", "console=ttyS1",
			"console=tty0 console=ttyS1"},
		{"locally removed image karg stays removed", "rw", "nosmt", "nosmt", "rw"},
		{"local duplicate of image karg goes with it", "nosmt rw nosmt", "nosmt", "", "rw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Parse(tt.current)
			ApplyDiff(&c, Parse(tt.old), Parse(tt.updated))
			if got := c.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestForUpdate(t *testing.T) {
	const ostreeArg = "ostree=/ostree/boot.1/default/5cf7/0"
	tests := []struct {
		name         string
		options      string
		mergeKargsd  string
		newKargsd    string
		newHasKargsd bool
		want         string
	}{
		// bootc tmt test-image-pushpull-upgrade: kargsv0 -> kargsv1 with a
		// quoted machine-local karg added by rpm-ostree in between.
		{"upstream pushpull second upgrade",
			`root=UUID=abc rw ` + ostreeArg + ` testarg=foo othertestkarg thirdkarg=bar "thisarg=quoted with spaces"`,
			"testarg=foo othertestkarg thirdkarg=bar",
			"testarg=foo thirdkarg=baz", true,
			`root=UUID=abc rw ` + ostreeArg + ` testarg=foo "thisarg=quoted with spaces" thirdkarg=baz`},
		{"upstream pushpull first upgrade (booted image had no kargs.d)",
			"root=UUID=abc rw " + ostreeArg,
			"", "testarg=foo othertestkarg thirdkarg=bar", true,
			"root=UUID=abc rw " + ostreeArg + " testarg=foo othertestkarg thirdkarg=bar"},
		{"new image without kargs.d keeps everything and re-adds merge kargs.d",
			"root=UUID=abc rw nosmt", "nosmt console=tty0", "", false,
			"root=UUID=abc rw nosmt console=tty0"},
		{"new image with empty kargs.d removes the old kargs.d arguments",
			"root=UUID=abc rw nosmt local=1", "nosmt", "", true,
			"root=UUID=abc rw local=1"},
		{"machine-local arguments survive",
			"root=UUID=abc rw console=ttyS0 mylocal=1 nosmt", "nosmt", "nosmt mitigations=off", true,
			"root=UUID=abc rw console=ttyS0 mylocal=1 nosmt mitigations=off"},
		{"duplicate console keys",
			"rw console=ttyS0,115200n8 console=tty0", "console=ttyS0,115200n8 console=tty0", "console=hvc0 console=tty0", true,
			"rw console=tty0 console=hvc0"},
		{"empty options", "", "", "quiet", true, "quiet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Parse(tt.options)
			before := opts.String()
			got := ForUpdate(opts, Parse(tt.mergeKargsd), Parse(tt.newKargsd), tt.newHasKargsd)
			if got.String() != tt.want {
				t.Errorf("got %q, want %q", got.String(), tt.want)
			}
			if opts.String() != before {
				t.Errorf("ForUpdate modified its input: %q", opts.String())
			}
			if got == nil {
				t.Error("ForUpdate returned nil")
			}
		})
	}
}

func TestForUpdateFS(t *testing.T) {
	merge := fstest.MapFS{
		Dir + "/10-a.toml": {Data: []byte(`kargs = ["testarg=foo", "othertestkarg", "thirdkarg=bar"]`)},
	}
	withDir := fstest.MapFS{
		Dir + "/10-a.toml": {Data: []byte(`kargs = ["testarg=foo", "thirdkarg=baz"]`)},
	}
	noDir := fstest.MapFS{"usr/bin/true": {Data: []byte("")}}
	bad := fstest.MapFS{Dir + "/10-a.toml": {Data: []byte("nope")}}
	options := "root=UUID=abc rw testarg=foo othertestkarg thirdkarg=bar"

	got, err := ForUpdateFS(options, merge, withDir, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if want := "root=UUID=abc rw testarg=foo thirdkarg=baz"; got.String() != want {
		t.Errorf("with kargs.d: %q, want %q", got.String(), want)
	}
	got, err = ForUpdateFS(options, merge, noDir, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != options {
		t.Errorf("without kargs.d: %q, want %q", got.String(), options)
	}
	if _, err := ForUpdateFS(options, merge, bad, "x86_64"); err == nil || !strings.Contains(err.Error(), "new image") {
		t.Errorf("bad new kargs.d: error %v", err)
	}
	if _, err := ForUpdateFS(options, bad, merge, "x86_64"); err == nil || !strings.Contains(err.Error(), "merge deployment") {
		t.Errorf("bad merge kargs.d: error %v", err)
	}
}

func TestForInstall(t *testing.T) {
	tests := []struct {
		name string
		in   InstallSources
		want string
	}{
		{"root only", InstallSources{Root: RootMountArgs("UUID=abc", nil, "")}, "root=UUID=abc rw"},
		{"order: root, config, kargs.d, cli", InstallSources{
			Root:   RootMountArgs("UUID=abc", nil, "UUID=boot"),
			Config: []string{"console=ttyS0", "foo=bar"},
			Kargsd: Parse("rw console=ttyS0,115200n8 console=hvc0"),
			CLI:    []string{"nosmt", "console=tty0 quiet"},
		}, "root=UUID=abc rw boot=UUID=boot console=ttyS0 foo=bar console=ttyS0,115200n8 console=hvc0 nosmt console=tty0 quiet"},
		{"duplicates across sources are dropped", InstallSources{
			Root:   RootMountArgs("UUID=abc", nil, ""),
			Config: []string{"quiet"},
			Kargsd: Parse("quiet rw"),
			CLI:    []string{"quiet"},
		}, "root=UUID=abc rw quiet"},
		{"config entry with several arguments", InstallSources{
			Config: []string{"localtestkarg=somevalue otherlocalkarg=42"},
		}, "localtestkarg=somevalue otherlocalkarg=42"},
		{"deletes apply before --karg", InstallSources{
			Root:          RootMountArgs("UUID=abc", nil, ""),
			Config:        []string{"console=ttyS0", "foo=bar", "debug"},
			Kargsd:        Parse("foo=baz bar=baz"),
			ConfigDeletes: []string{"debug", "bar=baz"},
			Deletes:       []string{"foo=bar", "console"},
			CLI:           []string{"console=tty0", "debug"},
		}, "root=UUID=abc rw foo=baz console=tty0 debug"},
		{"empty root spec", InstallSources{Root: RootMountArgs("", []string{"rd.lvm.lv=root"}, "")}, "rw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ForInstall(tt.in).String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRootMountArgs(t *testing.T) {
	tests := []struct {
		spec      string
		inherited []string
		boot      string
		want      string
	}{
		{"UUID=965eb3c7", nil, "", "root=UUID=965eb3c7 rw"},
		{"UUID=965eb3c7", []string{"rootflags=subvol=root"}, "UUID=b00t", "root=UUID=965eb3c7 rootflags=subvol=root rw boot=UUID=b00t"},
		{"LABEL=rootfs", []string{"rd.lvm.lv=root"}, "", "root=LABEL=rootfs rd.lvm.lv=root rw"},
		{"", []string{"rd.lvm.lv=root"}, "UUID=b00t", "rw boot=UUID=b00t"},
	}
	for _, tt := range tests {
		if got := RootMountArgs(tt.spec, tt.inherited, tt.boot).String(); got != tt.want {
			t.Errorf("RootMountArgs(%q, %q, %q) = %q, want %q", tt.spec, tt.inherited, tt.boot, got, tt.want)
		}
	}
}
