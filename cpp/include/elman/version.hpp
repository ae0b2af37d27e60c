#pragma once

namespace elman {
inline constexpr const char* version = "0.1.0";
}
