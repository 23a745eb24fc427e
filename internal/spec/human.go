package spec

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// blackCircle marks the booted entry.
const blackCircle = "●"

// RenderHuman writes the human-readable status of h, as upstream's
// `bootc status` does on a terminal: each of the staged, booted and rollback
// entries and then the other deployments, separated by blank lines, with
// labels right-aligned on the entry's title. verbose adds the stateroot,
// deploy serial, commit, signature, soft-reboot and download-only rows.
// A host without a booted entry prints "System is not deployed via bootc.".
// The format is for people and may change; programs must use JSON or YAML.
func RenderHuman(w io.Writer, h *Host, verbose bool) error {
	hw := &humanWriter{w: w}
	if h.Status.Booted == nil {
		hw.printf("System is not deployed via bootc.\n")
		return hw.err
	}
	first := true
	for _, s := range []struct {
		slot  Slot
		entry *BootEntry
	}{{SlotStaged, h.Status.Staged}, {SlotBooted, h.Status.Booted}, {SlotRollback, h.Status.Rollback}} {
		if s.entry == nil {
			continue
		}
		if !first {
			hw.printf("\n")
		}
		first = false
		switch e := s.entry; {
		case e.Image != nil:
			hw.imageEntry(s.slot, e, &h.Status, verbose)
		case e.Ostree != nil:
			hw.ostreeEntry(s.slot, e, &h.Status, verbose)
		case e.Composefs != nil:
			hw.composefsEntry(s.slot, e)
		default:
			hw.printf("Current %s state is unknown\n", s.slot)
		}
	}
	for i := range h.Status.OtherDeployments {
		e := &h.Status.OtherDeployments[i]
		hw.printf("\n")
		switch {
		case e.Image != nil:
			hw.imageEntry(0, e, &h.Status, verbose)
		case e.Ostree != nil:
			hw.ostreeEntry(0, e, &h.Status, verbose)
		}
	}
	return hw.err
}

// humanWriter keeps the first write error.
type humanWriter struct {
	w   io.Writer
	err error
}

func (hw *humanWriter) printf(format string, args ...any) {
	if hw.err != nil {
		return
	}
	_, hw.err = fmt.Fprintf(hw.w, format, args...)
}

// row writes "LABEL: VALUE" with the label right-aligned to width
// characters.
func (hw *humanWriter) row(width int, label, format string, args ...any) {
	pad := max(width-utf8.RuneCountInString(label), 0)
	hw.printf("%s%s: "+format+"\n", append([]any{strings.Repeat(" ", pad), label}, args...)...)
}

// humanTimestamp is the timestamp in UTC to the second.
func humanTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// imageEntry renders an entry deployed from a container image. slot 0 is
// an entry of OtherDeployments.
func (hw *humanWriter) imageEntry(slot Slot, e *BootEntry, st *HostStatus, verbose bool) {
	img := e.Image
	var title string
	switch slot {
	case SlotStaged:
		title = "  Staged image"
	case SlotBooted:
		title = blackCircle + " Booted image"
	case SlotRollback:
		title = "  Rollback image"
	default:
		title = "   Other image"
	}
	width := utf8.RuneCountInString(title)
	hw.printf("%s: %s\n", title, img.Image.displayName())
	hw.row(width, "Digest", "%s (%s)", img.ImageDigest, img.Architecture)
	if e.Composefs != nil {
		hw.row(width, "Verity", "%s", e.Composefs.Verity)
	}
	switch {
	case img.Version != nil && img.Timestamp != nil:
		hw.row(width, "Version", "%s (%s)", *img.Version, humanTimestamp(*img.Timestamp))
	case img.Version != nil:
		hw.row(width, "Version", "%s", *img.Version)
	case img.Timestamp != nil:
		hw.row(width, "Timestamp", "%s", humanTimestamp(*img.Timestamp))
	}
	if e.Pinned {
		hw.row(width, "Pinned", "yes")
	}
	if c := e.CachedUpdate; c != nil && c.ImageDigest != img.ImageDigest {
		switch {
		case c.Version != nil && c.Timestamp != nil:
			hw.row(width, "UpdateVersion", "%s (%s)", *c.Version, humanTimestamp(*c.Timestamp))
		case c.Version != nil:
			hw.row(width, "UpdateVersion", "%s", *c.Version)
		default:
			hw.row(width, "Update", "Available")
		}
		hw.row(width, "UpdateDigest", "%s", c.ImageDigest)
	}
	hw.usrOverlay(slot, st, width)
	if !verbose {
		return
	}
	if o := e.Ostree; o != nil {
		hw.verboseOstree(slot, o, width)
		hw.row(width, "Commit", "%s", o.Checksum)
	}
	if sig := img.Image.Signature; sig != nil {
		switch sig.Kind {
		case SignatureOstreeRemote:
			hw.row(width, "Signature", "ostree-remote:%s", sig.OstreeRemote)
		case SignatureContainerPolicy:
			hw.row(width, "Signature", "container-policy")
		case SignatureInsecure:
			hw.row(width, "Signature", "insecure")
		}
	}
	hw.row(width, "Soft-reboot", "%s", yesNo(e.SoftRebootCapable))
	if c := e.Composefs; c != nil {
		enforcement := "Enforced"
		if c.MissingVerityAllowed {
			enforcement = "Not Enforced"
		}
		hw.row(width, "FsVerity", "%s", enforcement)
	}
	hw.downloadOnly(slot, e, width)
}

// ostreeEntry renders an entry not deployed from a container image. As
// upstream, the label width is the title's length in bytes, so the rows of
// the booted entry sit two columns further right than the "●" title.
func (hw *humanWriter) ostreeEntry(slot Slot, e *BootEntry, st *HostStatus, verbose bool) {
	var title string
	switch slot {
	case SlotStaged:
		title = "  Staged ostree"
	case SlotBooted:
		title = blackCircle + " Booted ostree"
	case SlotRollback:
		title = "  Rollback ostree"
	default:
		title = " Other ostree"
	}
	width := len(title)
	hw.printf("%s\n", title)
	hw.row(width, "Commit", "%s", e.Ostree.Checksum)
	if e.Pinned {
		hw.row(width, "Pinned", "yes")
	}
	hw.usrOverlay(slot, st, width)
	if !verbose {
		return
	}
	hw.verboseOstree(slot, e.Ostree, width)
	hw.row(width, "Soft-reboot", "%s", yesNo(e.SoftRebootCapable))
	hw.downloadOnly(slot, e, width)
}

// composefsEntry renders a composefs-native entry without an image.
func (hw *humanWriter) composefsEntry(slot Slot, e *BootEntry) {
	var title string
	switch slot {
	case SlotStaged:
		title = "  Staged composefs"
	case SlotBooted:
		title = blackCircle + " Booted composefs"
	default:
		title = "  Rollback composefs"
	}
	hw.printf("%s\n", title)
	hw.row(len(title), "Commit", "%s", e.Composefs.Verity)
}

// usrOverlay writes the /usr overlay row for the booted entry.
func (hw *humanWriter) usrOverlay(slot Slot, st *HostStatus, width int) {
	if slot == SlotBooted && st.UsrOverlay != nil {
		hw.row(width, "/usr overlay", "%s", st.UsrOverlay)
	}
}

func (hw *humanWriter) verboseOstree(slot Slot, o *BootEntryOstree, width int) {
	hw.row(width, "StateRoot", "%s", o.Stateroot)
	hw.row(width, "Deploy serial", "%d", o.DeploySerial)
	hw.row(width, "Staged", "%s", yesNo(slot == SlotStaged))
}

// downloadOnly writes the download-only row for the staged entry.
func (hw *humanWriter) downloadOnly(slot Slot, e *BootEntry, width int) {
	if slot == SlotStaged {
		hw.row(width, "Download-only", "%s", yesNo(e.DownloadOnly))
	}
}
