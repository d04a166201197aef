// Package statemachine is the rig's state machine: a model of an Icechunk
// repository in plain Go, the ops that drive a repository through the
// actors (one type per action, each with a one-line text form), a
// pgregory.net/rapid generator of ops, an executor that applies each op to
// the model and the active actor and compares their outcomes (success, or
// failure with the same normalized error kind), and the invariant that
// every actor able to open the repository sees exactly the model.
//
// Runs are deterministic: a virtual clock gives flush times and (on the
// local backend) modification times, and ids come from one seeded source
// shared by every actor, the seed drawn by rapid. A run is recorded as a
// [Trace]; a failing run is shrunk by rapid and written as a trace file
// that [Replay] (and `icerig replay`) re-runs without rapid, stopping at
// the first [Divergence]. Traces under fixtures/traces/ are a regression
// corpus replayed by every go test.
//
// What is modelled: spec-1 semantics of upstream Icechunk 1.x (sessions,
// commits, refs, expiration, GC); spec 2 for init, refs, commits, amend,
// upgrade (a migration lists only the snapshots some ref reaches: others,
// such as those an expiration released, can no longer be named),
// expiration (re-parenting in the repo object, pruned ancestors) and GC.
// Beyond the active session, two other writers act on the repository: the
// production streamer appending a window to main (`stream`), and a rival
// actor with its own handle and session committing to the active
// session's branch before or after it (`race`), so a commit based on a
// replaced tip must be refused as a conflict whichever version wrote the
// tip. The `crash` action kills the active writer at its commit's Nth
// storage operation and restarts it: the commit must have happened
// entirely or not at all, and what the dead commit wrote is garbage the
// model tracks for GC. On spec-1 repositories, expiration and GC run through the GC oracle
// (the other version on a copy must agree).
package statemachine
