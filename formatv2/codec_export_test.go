package formatv2

// Test-only exports for the external test package (codec_compat_test.go).
var (
	CodecGenSnapshot = codecGenSnapshot
	CodecGenManifest = codecGenManifest
	CodecGenTxLog    = codecGenTxLog
	CodecFixturesDir = codecFixturesDir
)
