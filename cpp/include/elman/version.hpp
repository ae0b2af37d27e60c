// elman's version, and its one source: CMakeLists.txt (project VERSION) and pyproject.toml (the
// package's metadata, through scikit-build-core's regex provider) both read it from the line below,
// which must keep this form, "X.Y.Z" in digits.
#pragma once

namespace elman {
inline constexpr const char* version = "0.1.0";
}
