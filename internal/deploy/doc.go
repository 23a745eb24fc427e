// Package deploy carries out bootc's host operations on an ostree sysroot: status
// (deployments sorted into staged, booted, rollback), and the switch, upgrade and rollback
// flows that fetch an image, import it, compute kernel arguments, check /etc, stage or
// deploy it, and prune what no deployment needs.
//
// The package prints nothing: each operation returns an Outcome (its Result, the image,
// digest, version, the fetch report, bound images pulled, what prune removed), which the
// command line renders. Progress goes to the Host's progress.Reporter, diagnostics to the
// store's logger.
package deploy
