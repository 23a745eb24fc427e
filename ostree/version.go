package ostree

// #include "shim.h"
import "C"

// CheckVersion reports whether the libostree in use is at least year.release (for example
// 2024.3).
func CheckVersion(year, release int) bool {
	return C.ostree_check_version(C.guint(year), C.guint(release)) != 0
}
