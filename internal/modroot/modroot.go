// Package modroot finds the root directory of the Go module being worked
// on: the nearest directory, from the working directory upwards, that holds
// a go.mod file. Tests and test helpers use it to reach files that live at
// fixed places relative to the module root.
package modroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotFound is returned (wrapped) when neither the starting directory nor
// any of its parents holds a go.mod file.
var ErrNotFound = errors.New("no go.mod in the directory or its parents")

// Find walks up from the working directory to the directory holding go.mod
// and returns that directory.
func Find() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: working directory: %w", err)
	}
	return FindFrom(wd)
}

// FindFrom walks up from dir to the nearest directory holding a go.mod file
// and returns it. A relative dir is taken relative to the working directory.
func FindFrom(dir string) (string, error) {
	start, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("module root from %s: %w", dir, err)
	}
	for d := start; ; {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && fi.Mode().IsRegular() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("module root from %s: %w", start, ErrNotFound)
		}
		d = parent
	}
}
