package gccompare

import (
	"os"
	"testing"

	"github.com/icerig/icerig/internal/azurite"
)

func TestMain(m *testing.M) { os.Exit(azurite.Main(m)) }
