// Package fbv1 holds the Go accessors and builders that flatc generates
// from the spec-1 schemas in formatv1/schema. Every other file in this
// directory is generated: do not edit them; change the schema and run
// `make generate` (flatc --go --go-namespace fbv1 -o formatv1/internal
// formatv1/schema/*.fbs). formatv1's tests fail when these files and the
// schemas disagree.
package fbv1
