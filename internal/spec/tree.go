package spec

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The document is first turned into a small ordered tree, which the JSON
// writer prints with sorted keys and the YAML writer in upstream's struct
// order. Values in the tree are: nil, bool, int64, string, object, []any
// and tagged.

// member is one key of an object.
type member struct {
	key string
	val any
}

// object is a mapping whose members keep upstream's struct order.
type object []member

// tagged is an externally tagged enum variant with a value: JSON writes it
// as {"tag":val}, YAML as `!tag val`.
type tagged struct {
	tag string
	val any
}

func (h *Host) tree() object {
	return object{
		{"apiVersion", h.APIVersion},
		{"kind", h.Kind},
		{"metadata", h.Metadata.tree()},
		{"spec", h.Spec.tree()},
		{"status", h.Status.tree()},
	}
}

func stringMap(m map[string]string) object {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Upstream uses a BTreeMap<String, String>: byte order of UTF-8, which
	// is what sort.Strings does.
	sort.Strings(keys)
	o := make(object, 0, len(keys))
	for _, k := range keys {
		o = append(o, member{k, m[k]})
	}
	return o
}

func (m ObjectMeta) tree() object {
	o := object{}
	if len(m.Annotations) > 0 {
		o = append(o, member{"annotations", stringMap(m.Annotations)})
	}
	if len(m.Labels) > 0 {
		o = append(o, member{"labels", stringMap(m.Labels)})
	}
	if m.Name != "" {
		o = append(o, member{"name", m.Name})
	}
	if m.Namespace != "" {
		o = append(o, member{"namespace", m.Namespace})
	}
	return o
}

func (s HostSpec) tree() object {
	var img any
	if s.Image != nil {
		img = s.Image.tree()
	}
	return object{
		{"image", img},
		{"bootOrder", string(s.BootOrder.orDefault())},
	}
}

func (r ImageReference) tree() object {
	o := object{
		{"image", r.Image},
		{"transport", r.Transport},
	}
	if r.Signature != nil {
		o = append(o, member{"signature", r.Signature.tree()})
	}
	return o
}

func (s ImageSignature) tree() any {
	if s.Kind == SignatureOstreeRemote {
		return tagged{string(SignatureOstreeRemote), s.OstreeRemote}
	}
	return string(s.Kind)
}

func optString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func (s ImageStatus) tree() object {
	var ts any
	if s.Timestamp != nil {
		ts = formatTimestamp(*s.Timestamp)
	}
	return object{
		{"image", s.Image.tree()},
		{"version", optString(s.Version)},
		{"timestamp", ts},
		{"imageDigest", s.ImageDigest},
		{"architecture", s.Architecture},
	}
}

func optImageStatus(s *ImageStatus) any {
	if s == nil {
		return nil
	}
	return s.tree()
}

func (e BootEntry) tree() object {
	var ostree, composefs any
	if e.Ostree != nil {
		ostree = object{
			{"stateroot", e.Ostree.Stateroot},
			{"checksum", e.Ostree.Checksum},
			{"deploySerial", int64(e.Ostree.DeploySerial)},
		}
	}
	if c := e.Composefs; c != nil {
		composefs = object{
			{"verity", c.Verity},
			{"bootType", c.BootType},
			{"bootloader", c.Bootloader},
			{"bootDigest", optString(c.BootDigest)},
			{"missingVerityAllowed", c.MissingVerityAllowed},
		}
	}
	return object{
		{"image", optImageStatus(e.Image)},
		{"cachedUpdate", optImageStatus(e.CachedUpdate)},
		{"incompatible", e.Incompatible},
		{"pinned", e.Pinned},
		{"softRebootCapable", e.SoftRebootCapable},
		{"downloadOnly", e.DownloadOnly},
		{"store", optString(e.Store)},
		{"ostree", ostree},
		{"composefs", composefs},
	}
}

func optBootEntry(e *BootEntry) any {
	if e == nil {
		return nil
	}
	return e.tree()
}

func (s HostStatus) tree() object {
	o := object{
		{"staged", optBootEntry(s.Staged)},
		{"booted", optBootEntry(s.Booted)},
		{"rollback", optBootEntry(s.Rollback)},
	}
	if len(s.OtherDeployments) > 0 {
		others := make([]any, len(s.OtherDeployments))
		for i, e := range s.OtherDeployments {
			others[i] = e.tree()
		}
		o = append(o, member{"otherDeployments", others})
	}
	var overlay any
	if s.UsrOverlay != nil {
		overlay = object{
			{"accessMode", string(s.UsrOverlay.AccessMode)},
			{"persistence", string(s.UsrOverlay.Persistence)},
		}
	}
	return append(o,
		member{"rollbackQueued", s.RollbackQueued},
		member{"type", optString(s.Type)},
		member{"usrOverlay", overlay},
		member{"readOnly", s.ReadOnly},
	)
}

// formatTimestamp writes t in UTC as RFC 3339 with "Z", with no fraction
// when the nanoseconds are zero, else with 3, 6 or 9 digits, whichever is
// the shortest exact one (chrono's SecondsFormat::AutoSi, which upstream's
// DateTime<Utc> serialisation uses).
func formatTimestamp(t time.Time) string {
	t = t.UTC()
	base := t.Format("2006-01-02T15:04:05")
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return base + "Z"
	case ns%1_000_000 == 0:
		return fmt.Sprintf("%s.%03dZ", base, ns/1_000_000)
	case ns%1_000 == 0:
		return fmt.Sprintf("%s.%06dZ", base, ns/1_000)
	default:
		return fmt.Sprintf("%s.%09dZ", base, ns)
	}
}

// parseTimestamp parses an RFC 3339 date-time, also accepting a lower-case
// "t" or a space as the date/time separator and a lower-case "z", and
// returns it in UTC.
func parseTimestamp(s string) (time.Time, error) {
	norm := s
	if len(norm) > 10 && (norm[10] == 't' || norm[10] == ' ') {
		norm = norm[:10] + "T" + norm[11:]
	}
	if strings.HasSuffix(norm, "z") {
		norm = norm[:len(norm)-1] + "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, norm)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: invalid timestamp %q: want an RFC 3339 date-time", ErrInvalid, s)
	}
	return t.UTC(), nil
}
