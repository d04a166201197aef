// Package fbv2 holds the Go accessors and builders that flatc generates
// from the spec-1 + spec-2 schemas in formatv2/schema. Every other file in
// this directory is generated: do not edit them; change the schema and run
// `make generate` (flatc --go --go-namespace fbv2 -o formatv2/internal
// formatv2/schema/*.fbs). formatv2's tests fail when these files and the
// schemas disagree.
package fbv2
