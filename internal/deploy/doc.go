// Package deploy carries out bootc's host operations on an ostree sysroot: status
// (deployments sorted into staged, booted, rollback), and the switch, upgrade and rollback
// flows that fetch an image, import it, compute kernel arguments, check /etc, stage or
// deploy it, and prune what no deployment needs.
package deploy
