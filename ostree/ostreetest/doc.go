// Package ostreetest holds test helpers for code that uses libostree: throwaway sysroots on
// tmpfs or on a loop-mounted ext4 image (refusing the root filesystem, where writing
// deployments would freeze the machine's own root), removal of trees with immutable
// deployment directories, and committing a directory tree through package ostree's API.
//
// It lives in a non-test file so that tests of several packages can use it.
package ostreetest
