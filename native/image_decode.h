// Turning user input (a file, encoded bytes, raw pixels) into a BGR 8-bit image.
// Decoding is by content, never by file extension; EXIF orientation is applied.
#pragma once
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>

namespace shitu {

struct ImageSource {
  enum class Kind { Path, Bytes, Raw } kind = Kind::Path;
  std::string path;               // Kind::Path
  const uint8_t* data = nullptr;  // Kind::Bytes / Kind::Raw: memory kept alive by the caller
  size_t length = 0;
  int width = 0, height = 0, channels = 0;  // Kind::Raw
  bool rawIsBgr = false;                    // Kind::Raw: channel order of the pixels (default RGB[A])
  std::string label;                        // how errors name this image
};

// Always returns a continuous CV_8UC3 BGR image, or throws ShituError
// (ERR_IMAGE_MISSING for an absent file, ERR_IMAGE_DECODE otherwise).
cv::Mat DecodeImage(const ImageSource& src);

}  // namespace shitu
