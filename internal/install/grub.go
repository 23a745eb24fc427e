package install

import (
	"bytes"
	"context"
	"debug/pe"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"go.podman.io/storage/pkg/ioutils"

	"github.com/bootc-go/bootc/internal/install/disk"
	"github.com/bootc-go/bootc/internal/progress"
)

// Where Debian's packages put what a GRUB installation takes from the image.
const (
	grubMkconfigPath = "usr/sbin/grub-mkconfig"                            // grub-common
	ostreeCLIPath    = "usr/bin/ostree"                                    // ostree
	grubMkimagePath  = "usr/bin/grub-mkimage"                              // grub-common
	grubOstreeMenu   = "etc/grub.d/15_ostree"                              // ostree-boot
	grubDefaults     = "etc/default/grub"                                  // grub-pc or grub-efi-amd64
	grubPCDir        = "usr/lib/grub/i386-pc"                              // grub-pc-bin
	shimSigned       = "usr/lib/shim/shimx64.efi.signed"                   // shim-signed
	mokManagerSigned = "usr/lib/shim/mmx64.efi.signed"                     // shim-helpers-amd64-signed
	grubEFISigned    = "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" // grub-efi-amd64-signed
)

// grubDir is GRUB's directory on the /boot filesystem: the BIOS core image's prefix, with
// its modules in i386-pc/ and grub.cfg, a symlink to libostree's ../loader/grub.cfg.
const grubDir = "grub"

// efiBootDir is the removable-media path on the ESP: firmware boots EFI/BOOT/BOOTX64.EFI
// without a boot entry in its variables.
const efiBootDir = "EFI/BOOT"

// GrubFiles is what an image ships of GRUB.
type GrubFiles struct {
	// Mkconfig, OstreeMenu, Defaults and OstreeCLI are what writes the menu: grub-mkconfig,
	// libostree's /etc/grub.d/15_ostree, /etc/default/grub (which 15_ostree sources) and
	// the ostree command it runs.
	Mkconfig, OstreeMenu, Defaults, OstreeCLI bool
	// Mkimage and PC make the BIOS core image: grub-mkimage and the i386-pc modules.
	Mkimage, PC bool
	// Shim and SignedEFI are the Secure Boot chain: the signed shim and the signed GRUB.
	Shim, SignedEFI bool
	// MokManager is shim's signed MokManager (optional).
	MokManager bool
}

// scanGrub reads what fsys, an image's root, ships of GRUB. Its /etc files may be in
// /usr/etc, where an ostree-native image keeps /etc.
func scanGrub(fsys fs.FS) GrubFiles {
	inEtc := func(p string) bool { return present(fsys, p) || present(fsys, "usr/"+p) }
	return GrubFiles{
		Mkconfig:   present(fsys, grubMkconfigPath),
		OstreeMenu: inEtc(grubOstreeMenu),
		Defaults:   inEtc(grubDefaults),
		OstreeCLI:  present(fsys, ostreeCLIPath),
		Mkimage:    present(fsys, grubMkimagePath),
		PC:         present(fsys, grubPCDir+"/boot.img") && present(fsys, grubPCDir+"/normal.mod"),
		Shim:       present(fsys, shimSigned),
		SignedEFI:  present(fsys, grubEFISigned),
		MokManager: present(fsys, mokManagerSigned),
	}
}

// BIOS reports whether the image can boot with GRUB on BIOS.
func (g GrubFiles) BIOS() bool { return g.Mkimage && g.PC }

// EFI reports whether the image can boot with GRUB on UEFI (shim and GRUB, signed).
func (g GrubFiles) EFI() bool { return g.Shim && g.SignedEFI }

// Missing names what the image lacks for a GRUB installation ("" when nothing): the menu
// generator, and at least one of the BIOS and UEFI boot chains.
func (g GrubFiles) Missing() string {
	var miss []string
	for _, f := range []struct {
		ok   bool
		path string
	}{{g.Mkconfig, grubMkconfigPath}, {g.OstreeMenu, grubOstreeMenu}, {g.Defaults, grubDefaults}, {g.OstreeCLI, ostreeCLIPath}} {
		if !f.ok {
			miss = append(miss, "/"+f.path)
		}
	}
	if !g.BIOS() && !g.EFI() {
		miss = append(miss, fmt.Sprintf("a boot chain (signed shim and GRUB /%s and /%s for UEFI, or /%s and /%s/ for BIOS)",
			shimSigned, grubEFISigned, grubMkimagePath, grubPCDir))
	}
	return strings.Join(miss, ", ")
}

// Usable reports whether nothing is missing.
func (g GrubFiles) Usable() bool { return g.Missing() == "" }

// grubInstalled is what installGrub leaves for the caller to write outside the
// filesystems: the BIOS boot code and the EFI system partition's files.
type grubInstalled struct {
	// bootImage is GRUB's boot.img (the MBR boot code) and coreImage its core image for the
	// BIOS boot partition; both nil without the BIOS chain.
	bootImage, coreImage []byte
	// esp maps ESP paths to contents; nil without the UEFI chain.
	esp map[string][]byte
}

// installGrub sets up GRUB on the /boot filesystem of s for the deployment dep: the
// grub/grub.cfg symlink to libostree's loader/grub.cfg, the first menu, the BIOS modules
// and core image, and the ESP's files.
//
// The first menu's entries come from the image's libostree (ostree admin instutil
// grub2-generate, what /etc/grub.d/15_ostree runs), below a short header; grub-mkconfig
// itself cannot run here, since grub-probe resolves a loop device to its backing file,
// which the chroot does not have. From the first deployment change on the installed host,
// libostree's grub2 backend writes the menu with the image's grub-mkconfig. It ends by setting the repository's
// sysroot.bootloader to grub2, so that every later deployment, finalization and rollback
// rewrites the menu.
//
// libostree's grub2 backend (and not a fixed grub.cfg reading libostree's files) because
// Debian's GRUB 2.06 has no blscfg to read the BLS entries: the backend writes
// loader.N/grub.cfg for the new boot version before it swaps the boot/loader symlink, so a
// power cut at any point leaves a grub.cfg whose entries are all complete: the previous
// menu until the swap, the new one after it.
func (in *installer) installGrub(ctx context.Context, dep string, s rootSetup) (*grubInstalled, error) {
	g := in.info.Grub
	bootDir := filepath.Join(s.path, "boot")
	if err := os.MkdirAll(filepath.Join(bootDir, grubDir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink("../loader/grub.cfg", filepath.Join(bootDir, grubDir, "grub.cfg")); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	target, err := os.Readlink(filepath.Join(bootDir, "loader"))
	if err != nil {
		return nil, fmt.Errorf("reading the boot version: %w", err)
	}
	version, ok := strings.CutPrefix(target, "loader.")
	if _, err := strconv.Atoi(version); !ok || err != nil {
		return nil, fmt.Errorf("boot/loader points to %q, not loader.N", target)
	}
	uuid, fstype, err := filesystemUUIDAt(bootDir)
	if err != nil {
		return nil, fmt.Errorf("the /boot filesystem: %w", err)
	}
	menu, err := grubMenu(ctx, dep, bootDir, s.path, version, uuid, fstype)
	if err != nil {
		return nil, err
	}
	if err := ioutils.AtomicWriteFile(filepath.Join(bootDir, target, "grub.cfg"), menu, 0o644); err != nil {
		return nil, err
	}
	res := &grubInstalled{}
	if g.BIOS() {
		if res.bootImage, res.coreImage, err = in.grubBIOS(ctx, dep, bootDir, uuid, fstype); err != nil {
			return nil, fmt.Errorf("making GRUB's BIOS core image: %w", err)
		}
	}
	if g.EFI() {
		if res.esp, err = in.grubESP(dep, uuid); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// grubMenuHeader precedes the entries of a menu bootc writes; load_video is what the
// entries libostree writes expect grub-mkconfig's header to define.
const grubMenuHeader = `# Written by bootc (install, or a deployment on an offline sysroot). On the booted host
# libostree's grub2 backend writes this file with grub-mkconfig (/etc/grub.d/15_ostree).
set default=0
set timeout=3
function load_video {
  insmod all_video
}
`

// grubMenu returns the GRUB menu of boot version version of the sysroot physRoot (its
// /boot at bootDir, filesystem uuid of type fstype): libostree's entries, written by the image's ostree admin instutil
// grub2-generate (what /etc/grub.d/15_ostree runs) chrooted into the deployment dep, below
// grubMenuHeader. grub-mkconfig itself cannot run outside the booted host: grub-probe
// resolves a loop device to its backing file, which the chroot does not have.
func grubMenu(ctx context.Context, dep, bootDir, physRoot, version, uuid, fstype string) ([]byte, error) {
	var entries bytes.Buffer
	err := runChrooted(ctx, chrootSpec{dep: dep, boot: bootDir, sysroot: physRoot, stdout: &entries,
		env: []string{"GRUB2_BOOT_DEVICE_ID=" + uuid, "GRUB2_PREPARE_ROOT_CACHE=" + grubSearchBoot(uuid, fstype)}},
		"/"+ostreeCLIPath, "admin", "instutil", "grub2-generate", version)
	if err != nil {
		return nil, fmt.Errorf("writing the GRUB menu with the image's libostree: %w", err)
	}
	if !bytes.Contains(entries.Bytes(), []byte("menuentry ")) || !bytes.Contains(entries.Bytes(), []byte("ostree=")) {
		return nil, fmt.Errorf("the image's ostree admin instutil grub2-generate wrote no menu entry:\n%s", entries.String())
	}
	return append([]byte(grubMenuHeader), entries.Bytes()...), nil
}

// GrubGeneratorEnv names the physical root of an offline sysroot in the environment of
// [GrubMenuGenerator]; [UseGrubMenuGenerator] sets it.
const GrubGeneratorEnv = "BOOTC_GRUB2_SYSROOT"

// UseGrubMenuGenerator makes libostree's grub2 backend run self (this bootc binary) as its
// menu generator (OSTREE_GRUB2_EXEC) for the offline sysroot physRoot: there libostree
// would run grub-mkconfig chrooted into the new deployment without /dev, /proc, /sys and
// /boot, and fail. The binary then answers `self -o FILE` with [GrubMenuGenerator].
// Not for a booted host, where grub-mkconfig runs as is.
func UseGrubMenuGenerator(self, physRoot string) error {
	if err := os.Setenv("OSTREE_GRUB2_EXEC", self); err != nil {
		return err
	}
	return os.Setenv(GrubGeneratorEnv, physRoot)
}

// GrubMenuGenerator writes the menu libostree's grub2 backend asks for when bootc is its
// generator: args are the generator's ("-o" FILE), the boot version is in
// _OSTREE_GRUB2_BOOTVERSION and the sysroot in GrubGeneratorEnv. It reports false when
// the process was not started as the generator. The menu is grubMenu's, chrooted into the
// deployment of the new boot version's first entry.
func GrubMenuGenerator(ctx context.Context, args []string) (bool, error) {
	physRoot, version := os.Getenv(GrubGeneratorEnv), os.Getenv("_OSTREE_GRUB2_BOOTVERSION")
	if len(args) != 2 || args[0] != "-o" || physRoot == "" || version == "" {
		return false, nil
	}
	out := args[1]
	bootDir := filepath.Join(physRoot, "boot")
	dep, err := firstEntryDeployment(physRoot, version)
	if err != nil {
		return true, fmt.Errorf("GRUB menu for boot version %s of %s: %w", version, physRoot, err)
	}
	uuid, fstype, err := filesystemUUIDAt(bootDir)
	if err != nil {
		return true, fmt.Errorf("the /boot filesystem of %s: %w", physRoot, err)
	}
	menu, err := grubMenu(ctx, dep, bootDir, physRoot, version, uuid, fstype)
	if err != nil {
		return true, err
	}
	return true, ioutils.AtomicWriteFile(out, menu, 0o644)
}

// firstEntryDeployment returns the deployment directory of the first BLS entry (the
// highest ostree-N) of boot version version: its ostree=/ostree/boot.V/STATEROOT/BOOTCSUM/
// SERIAL argument, found through the boot links of that version (ostree/boot.V.SUB, written
// before libostree runs the generator).
func firstEntryDeployment(physRoot, version string) (string, error) {
	entries, err := filepath.Glob(filepath.Join(physRoot, "boot", "loader."+version, "entries", "ostree-*.conf"))
	if err != nil || len(entries) == 0 {
		return "", fmt.Errorf("no boot entries in boot/loader.%s/entries", version)
	}
	best, bestN := "", -1
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscanf(filepath.Base(e), "ostree-%d-", &n); err == nil && n > bestN {
			best, bestN = e, n
		}
	}
	b, err := os.ReadFile(best)
	if err != nil {
		return "", err
	}
	var arg string
	for _, l := range strings.Split(string(b), "\n") {
		if opts, ok := strings.CutPrefix(l, "options "); ok {
			for _, a := range strings.Fields(opts) {
				if v, ok := strings.CutPrefix(a, "ostree="); ok {
					arg = v
				}
			}
		}
	}
	prefix := "/ostree/boot." + version + "/"
	rest, ok := strings.CutPrefix(arg, prefix)
	if !ok {
		return "", fmt.Errorf("%s: ostree=%q is not under %s", best, arg, prefix)
	}
	links, _ := filepath.Glob(filepath.Join(physRoot, "ostree", "boot."+version+".*", filepath.FromSlash(rest)))
	for _, l := range links {
		if dep, err := filepath.EvalSymlinks(l); err == nil && strings.HasPrefix(dep, physRoot+"/") {
			return dep, nil
		}
	}
	return "", fmt.Errorf("%s: no boot link for ostree=%s", best, arg)
}

// grubSearchBoot is the GRUB commands that find the /boot filesystem (type fstype) by its
// UUID, as grub-mkconfig's prepare_grub_to_access_device writes them.
func grubSearchBoot(uuid, fstype string) string {
	return fmt.Sprintf("insmod part_gpt\ninsmod %s\nsearch --no-floppy --fs-uuid --set=root %s", grubModuleFor(fstype), uuid)
}

// grubModuleFor is GRUB's module for a /boot filesystem type.
func grubModuleFor(fstype string) string {
	switch fstype {
	case "ext2", "ext3", "ext4", "":
		return "ext2"
	}
	return fstype
}

// grubBIOS copies the image's i386-pc modules to /boot/grub/i386-pc and makes the core
// image with the image's grub-mkimage: it finds /boot (filesystem uuid, type fstype) and loads
// normal.mod and grub.cfg from /boot/grub. It returns boot.img and the core image, which
// the caller embeds with embedGrub.
func (in *installer) grubBIOS(ctx context.Context, dep, bootDir, uuid, fstype string) (bootImg, core []byte, err error) {
	modDir := filepath.Join(bootDir, grubDir, "i386-pc")
	if err := os.MkdirAll(modDir, 0o755); err != nil {
		return nil, nil, err
	}
	ents, err := os.ReadDir(filepath.Join(dep, grubPCDir))
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && (strings.HasSuffix(n, ".mod") || strings.HasSuffix(n, ".lst")) {
			b, err := readInRoot(dep, grubPCDir+"/"+n, 16<<20)
			if err != nil {
				return nil, nil, err
			}
			if err := ioutils.AtomicWriteFile(filepath.Join(modDir, n), b, 0o644); err != nil {
				return nil, nil, err
			}
		}
	}
	load := fmt.Sprintf("search.fs_uuid %s root\nset prefix=($root)'/%s'\n", uuid, grubDir)
	if err := os.WriteFile(filepath.Join(modDir, "load.cfg"), []byte(load), 0o644); err != nil {
		return nil, nil, err
	}
	coreIn := "/boot/" + grubDir + "/i386-pc/core.img"
	err = runChrooted(ctx, chrootSpec{dep: dep, boot: bootDir}, "/"+grubMkimagePath,
		"-O", "i386-pc", "-d", "/"+grubPCDir, "-o", coreIn, "-c", "/boot/"+grubDir+"/i386-pc/load.cfg",
		"-p", "/"+grubDir, "biosdisk", "part_gpt", "part_msdos", grubModuleFor(fstype), "search_fs_uuid")
	if err != nil {
		return nil, nil, err
	}
	if core, err = os.ReadFile(filepath.Join(bootDir, coreIn[len("/boot/"):])); err != nil {
		return nil, nil, err
	}
	if bootImg, err = readInRoot(dep, grubPCDir+"/boot.img", 4096); err != nil {
		return nil, nil, err
	}
	return bootImg, core, nil
}

// grubESPConfig is EFI/BOOT/grub.cfg, which the signed GRUB reads next to itself. It reads
// the menu libostree keeps on /boot. That menu boots with linux16 and initrd16, BIOS
// commands, since libostree writes it for BIOS (it can only swap it atomically there); the
// EFI GRUB runs the same entries with linux and initrd, which verify the kernel's signature
// through shim.
const grubESPConfig = `# Written by bootc install. The menu is /boot's loader/grub.cfg, which libostree rewrites
# at every deployment.
search --no-floppy --fs-uuid --set=root %s
set prefix=($root)/%s
function linux16 {
  linux "$@"
}
function initrd16 {
  initrd "$@"
}
source ($root)/loader/grub.cfg
`

// grubESP returns the EFI system partition's files: shim as the removable-media
// EFI/BOOT/BOOTX64.EFI with the signed GRUB (and MokManager) beside it, and the GRUB
// configuration that reads the menu on the /boot filesystem bootUUID. An unsigned kernel
// gets a warning, not a refusal: shim refuses it only with Secure Boot enabled, and the
// same disk still boots with Secure Boot disabled and on BIOS.
func (in *installer) grubESP(dep, bootUUID string) (map[string][]byte, error) {
	files := map[string][]byte{efiBootDir + "/grub.cfg": fmt.Appendf(nil, grubESPConfig, bootUUID, grubDir)}
	for dst, src := range map[string]string{"BOOTX64.EFI": shimSigned, "grubx64.efi": grubEFISigned, "mmx64.efi": mokManagerSigned} {
		if src == mokManagerSigned && !in.info.Grub.MokManager {
			continue
		}
		b, err := readInRoot(dep, src, 64<<20)
		if err != nil {
			return nil, err
		}
		files[efiBootDir+"/"+dst] = b
	}
	for _, k := range in.info.Kernels {
		p := path.Join("usr/lib/modules", k, "vmlinuz")
		signed, err := peSigned(filepath.Join(dep, p))
		if err != nil {
			return nil, fmt.Errorf("reading the kernel /%s: %w", p, err)
		}
		if !signed {
			in.opts.printf("Warning: the kernel /%s is not signed: with Secure Boot enabled shim refuses it, and the disk boots only with Secure Boot disabled\n", p)
		}
	}
	return files, nil
}

// peSigned reports whether the PE file name (an EFI binary such as an x86 kernel) carries
// an Authenticode signature: a non-empty certificate table.
func peSigned(name string) (bool, error) {
	f, err := pe.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	const certificateTable = 4 // IMAGE_DIRECTORY_ENTRY_SECURITY
	switch h := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		return h.NumberOfRvaAndSizes > certificateTable && h.DataDirectory[certificateTable].Size > 0, nil
	case *pe.OptionalHeader32:
		return h.NumberOfRvaAndSizes > certificateTable && h.DataDirectory[certificateTable].Size > 0, nil
	}
	return false, errors.New("no PE optional header")
}

// writeGrubChains writes what GRUB needs outside the filesystems of the disk d (table t):
// the core image into the BIOS boot partition number biosBoot and boot.img as the MBR boot
// code, and the files of the EFI system partition espDev.
func (in *installer) writeGrubChains(ctx context.Context, d *disk.Disk, t *disk.Table, biosBoot int, espDev string, g *grubInstalled) error {
	if g.coreImage != nil {
		p := t.Partition(biosBoot)
		if p == nil {
			return fmt.Errorf("%s has no BIOS boot partition for GRUB's core image", d.Path())
		}
		mbr, core, err := embedGrub(g.bootImage, g.coreImage, p.FirstLBA, p.Size(t.SectorSize))
		if err != nil {
			return err
		}
		dev, err := d.PartitionDevice(ctx, biosBoot)
		if err != nil {
			return err
		}
		in.opts.printf("Installing GRUB's BIOS core image (%s) to %s\n", progress.HumanBytes(uint64(len(core))), dev)
		if err := writeSync(dev, core); err != nil {
			return err
		}
		if err := d.InstallMBRBootCode(mbr); err != nil {
			return err
		}
	}
	if g.esp != nil {
		in.opts.printf("Installing shim and GRUB to the EFI system partition %s (%s)\n", espDev, efiBootDir)
		if err := writeVfat(ctx, espDev, g.esp); err != nil {
			return fmt.Errorf("writing the EFI system partition %s: %w", espDev, err)
		}
	}
	return nil
}

// writeSync writes b (possibly nothing) at the start of the device dev and syncs it.
func writeSync(dev string, b []byte) error {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeVfat copies files (slash-separated paths) into the vfat filesystem on dev with the
// host's mtools, which need no mount (this host's kernel may not have vfat).
func writeVfat(ctx context.Context, dev string, files map[string][]byte) error {
	tmp, err := os.MkdirTemp("", "bootc-esp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tops := map[string]bool{}
	for name, b := range files {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		tops[strings.SplitN(name, "/", 2)[0]] = true
	}
	for top := range tops {
		cmd := exec.CommandContext(ctx, "mcopy", "-s", "-o", "-i", dev, filepath.Join(tmp, top), "::/")
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if err := disk.RunCommand(cmd, nil); err != nil {
			return err
		}
	}
	// mtools does not sync: its writes sit in the device's page cache.
	return writeSync(dev, nil)
}

// grubTargets is where to-filesystem puts GRUB's boot chains: the BIOS boot partition of
// the disk holding /boot, and the EFI system partition mounted at ROOT/boot/efi.
type grubTargets struct {
	// disk and biosBoot are the whole disk and its BIOS boot partition's number ("", 0:
	// none, or the image has no BIOS chain).
	disk     string
	biosBoot int
	// espDir is the mounted ESP ("": none, or the image has no UEFI chain).
	espDir string
}

// findGrubTargets finds, before anything is written, where to-filesystem can install the
// image's GRUB boot chains, and refuses when it finds neither.
func (in *installer) findGrubTargets(root, bootDev string) (*grubTargets, error) {
	g := in.info.Grub
	t := &grubTargets{}
	if g.BIOS() {
		if parent, _, err := parentDisk(bootDev); err == nil && parent != "" {
			if d, err := disk.Open(parent, disk.Options{ReadOnly: true, AllowInUse: true}); err == nil {
				if tbl := d.Table(); tbl != nil && tbl.SectorSize == grubSector {
					for _, p := range tbl.Partitions {
						if p.Type == disk.TypeBIOSBoot {
							t.disk, t.biosBoot = parent, p.Number
							break
						}
					}
				}
				d.Close()
			}
		}
	}
	if esp := filepath.Join(root, "boot", "efi"); g.EFI() {
		if mp, err := isMountPoint(esp); err == nil && mp {
			t.espDir = esp
		}
	}
	if t.biosBoot == 0 && t.espDir == "" {
		return nil, fmt.Errorf("install: --bootloader grub: found no place for GRUB's boot chains: mount the EFI system partition at %s (the image has the UEFI chain: %v), or give the disk of /boot (%s) a BIOS boot partition (the image has the BIOS chain: %v)",
			filepath.Join(root, "boot", "efi"), g.EFI(), bootDev, g.BIOS())
	}
	return t, nil
}

// writeGrubTargets writes the boot chains installGrub returned to the places
// findGrubTargets found.
func (in *installer) writeGrubTargets(ctx context.Context, t *grubTargets, g *grubInstalled) error {
	if t.biosBoot != 0 && g.coreImage != nil {
		d, err := disk.Open(t.disk, disk.Options{AllowInUse: true})
		if err != nil {
			return err
		}
		defer d.Close()
		tbl := d.Table()
		if tbl == nil {
			return fmt.Errorf("%s has no GPT", t.disk)
		}
		if err := in.writeGrubChains(ctx, d, tbl, t.biosBoot, "", &grubInstalled{bootImage: g.bootImage, coreImage: g.coreImage}); err != nil {
			return err
		}
	}
	if t.espDir != "" && g.esp != nil {
		in.opts.printf("Installing shim and GRUB to the EFI system partition at %s (%s)\n", t.espDir, efiBootDir)
		for name, b := range g.esp {
			p := filepath.Join(t.espDir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := ioutils.AtomicWriteFile(p, b, 0o644); err != nil {
				return err
			}
		}
		if err := trimAndSync(t.espDir); err != nil {
			return err
		}
	}
	return nil
}
