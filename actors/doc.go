// Package actors puts every version of the Icechunk library under test behind
// one interface, so the rig, the GC oracle and the icerig CLI can drive any
// of them without importing a library directly.
//
// An [Actor] opens or creates repositories; a [Repo] is an open repository
// seen through one library version. Everything that crosses the interface is
// plain data: snapshot ids are their 20-character Crockford base32 text, refs
// are [Ref] values ("branch:main", "tag:v1", "snapshot:ID"), nodes carry
// their zarr.json bytes. No library type leaks out, so traces, JSON reports
// and the model never depend on a library version.
//
// Errors are normalized: every error a Repo or Actor returns is an [*Error]
// naming the actor and the operation, whose Kind is one of the package's
// sentinels ([ErrConflict], [ErrRefNotFound], ...) when the library error
// has a counterpart. Both errors.Is(err, actors.ErrRefNotFound) and the
// library's own sentinels and message survive. An operation a version does
// not have returns [ErrUnsupportedOperation], never a silent no-op.
//
// An [Actor] returns a [Handle]: the reads of [Repo] (all that inspect and
// the CLI's read commands need) plus [Session]s, ref updates and Upgrade.
// [Capabilities] declares the spec versions an actor reads and writes and
// its optional operations; the rig derives its expectations from it.
//
// Adapters: [V1] over formatv1 (spec 1), [V2] over formatv2 (specs 1 and
// 2, migration, amend). A library version is added by one
// adapter file implementing Actor, Handle and Session and mapping its
// errors with a kind table (see v1.go and v1_write.go), plus one line in
// the [Registry] (registry.go); the icerig CLI and the rig take their
// actors from there. Optional abilities, such as reading a spec-2
// repository's ops log, are optional interfaces ([Spec2Reader]).
package actors
