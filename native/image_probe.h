// Reading an encoded image's container header (format, dimensions, pages)
// without decoding it, so that a pixel bomb — a small file declaring a huge
// picture — is refused before any large allocation.
//
// Written by hand because nothing on the system does it: OpenCV 4.6 (Debian's)
// has no header-only API (cv::imdecode allocates the full picture; the
// ImageCollection/`imcount` probes came in 4.8+), and linking libjpeg, libpng,
// libwebp and libtiff directly only to read their headers would add four
// link-time dependencies for ~300 lines of header parsing. Each reader follows
// the decoder OpenCV will pick for the same bytes (same magic, and for JPEG the
// same marker walk as libjpeg's read_markers), and every read is bounds-checked.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace shitu {

// Formats by content. The first five are decoded by default; the others only
// when enabled (each is attack surface few callers need).
enum class ImageFormat : uint32_t {
  Unknown = 0,
  Jpeg = 1u << 0,
  Png = 1u << 1,
  WebP = 1u << 2,
  Tiff = 1u << 3,
  Bmp = 1u << 4,
  Jpeg2000 = 1u << 5,
  Pnm = 1u << 6,   // PBM/PGM/PPM (P1-P6) and PAM (P7)
  Pfm = 1u << 7,
  Hdr = 1u << 8,   // Radiance RGBE
  SunRaster = 1u << 9,
  Exr = 1u << 10,
};

inline constexpr uint32_t kDefaultImageFormats = static_cast<uint32_t>(ImageFormat::Jpeg) |
                                                 static_cast<uint32_t>(ImageFormat::Png) |
                                                 static_cast<uint32_t>(ImageFormat::WebP) |
                                                 static_cast<uint32_t>(ImageFormat::Tiff) |
                                                 static_cast<uint32_t>(ImageFormat::Bmp);

struct ImageHeader {
  ImageFormat format = ImageFormat::Unknown;
  uint64_t width = 0, height = 0;  // of the largest page (the decoder reads the first)
  uint32_t pages = 1;              // TIFF directories
};

// The format's name as the `formats` option spells it ("jpeg", "png", ...).
const char* FormatName(ImageFormat f);
// ImageFormat::Unknown for a name that is not one.
ImageFormat FormatFromName(const std::string& name);

// The format by magic bytes only (Unknown when none matches).
ImageFormat SniffFormat(const uint8_t* data, size_t len);

// The header of a known format; throws ShituError(ERR_IMAGE_DECODE) when the
// header is truncated or malformed, so the decoder never sees it.
ImageHeader ProbeImage(const uint8_t* data, size_t len, const std::string& label);

}  // namespace shitu
