// Why by hand: OpenCV's imdecode spends 1-3 ms per photo around libjpeg that
// this file does not (see jpeg_decode.h); libjpeg-turbo itself does the work.
// libjpeg reports fatal errors through error_exit, which must not return: it
// longjmps back to DecodeJpegTurbo's setjmp, whose frame holds only C objects
// (the decompressor and its error manager), so no C++ destructor is skipped.
#include "jpeg_decode.h"

#include <opencv2/core.hpp>

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <cstdlib>
#include <cstring>

#include <jpeglib.h>

namespace shitu {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

[[noreturn]] void OnError(j_common_ptr c) { std::longjmp(reinterpret_cast<ErrorManager*>(c->err)->jump, 1); }

// A warning (level < 0) means corrupt data that libjpeg would paper over: leave
// that file to OpenCV, which decodes it as it always did. Trace messages are dropped.
void OnMessage(j_common_ptr c, int level) {
  if (level < 0) std::longjmp(reinterpret_cast<ErrorManager*>(c->err)->jump, 1);
}

uint16_t U16(const uint8_t* p, bool little) { return little ? (p[0] | p[1] << 8) : (p[0] << 8 | p[1]); }
uint32_t U32(const uint8_t* p, bool little) {
  return little ? (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24)
                : (uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]));
}

// The orientation tag (0x0112) of IFD 0 in the first APP1 segment, read as
// OpenCV 4's ExifReader reads it: the segment's first 6 bytes ("Exif\0\0")
// skipped, then a TIFF header; entries are read until one would run past the
// segment. 1 (as stored) when absent or unreadable.
int ExifOrientation(jpeg_saved_marker_ptr m) {
  while (m && m->marker != JPEG_APP0 + 1) m = m->next;
  if (!m || m->data_length <= 6) return 1;
  const uint8_t* d = m->data + 6;
  const size_t n = m->data_length - 6;
  if (n < 8 || d[0] != d[1] || (d[0] != 'I' && d[0] != 'M')) return 1;
  const bool little = d[0] == 'I';
  if (U16(d + 2, little) != 0x2A) return 1;
  const size_t ifd = U32(d + 4, little);
  if (ifd > n || n - ifd < 2) return 1;
  const size_t count = U16(d + ifd, little);
  for (size_t i = 0; i < count; ++i) {
    const size_t at = ifd + 2 + 12 * i;
    if (at > n || n - at < 12) break;
    if (U16(d + at, little) == 0x0112) return U16(d + at + 8, little);
  }
  return 1;
}

// As OpenCV's ApplyExifOrientation, operation for operation.
void ApplyOrientation(int orientation, cv::Mat& img) {
  cv::Mat t;
  switch (orientation) {
    case 2: cv::flip(img, img, 1); break;
    case 3: cv::flip(img, img, -1); break;
    case 4: cv::flip(img, img, 0); break;
    case 5: cv::transpose(img, t); img = t; break;
    case 6: cv::transpose(img, t); cv::flip(t, img, 1); break;
    case 7: cv::transpose(img, t); cv::flip(t, img, -1); break;
    case 8: cv::transpose(img, t); cv::flip(t, img, 0); break;
    default: break;  // 1, or a value EXIF does not define
  }
}

// Only C objects live in this frame (see the file's opening comment). `out` is the caller's.
bool Decode(const uint8_t* data, size_t len, int scale, uint64_t width, uint64_t height, cv::Mat* out, int* orientation) {
  jpeg_decompress_struct c;
  ErrorManager err;
  c.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = OnError;
  err.pub.emit_message = OnMessage;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&c);
    return false;
  }
  jpeg_create_decompress(&c);
  jpeg_mem_src(&c, data, static_cast<unsigned long>(len));
  jpeg_save_markers(&c, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(&c, TRUE);
  if ((c.num_components != 1 && c.num_components != 3) || c.image_width != width || c.image_height != height) {
    jpeg_destroy_decompress(&c);
    return false;
  }
  c.scale_num = 1;
  c.scale_denom = static_cast<unsigned int>(scale);
  c.out_color_space = JCS_EXT_BGR;  // as OpenCV asks of libjpeg-turbo for IMREAD_COLOR (gray too)
  jpeg_calc_output_dimensions(&c);
  bool allocated = false;
  try {
    out->create(static_cast<int>(c.output_height), static_cast<int>(c.output_width), CV_8UC3);
    allocated = true;
  } catch (...) {
  }
  if (!allocated) {
    jpeg_destroy_decompress(&c);
    throw std::bad_alloc();
  }
  jpeg_start_decompress(&c);
  JSAMPROW rows[16];
  while (c.output_scanline < c.output_height) {
    const JDIMENSION left = c.output_height - c.output_scanline;
    const int n = static_cast<int>(left < 16 ? left : 16);
    for (int i = 0; i < n; ++i) rows[i] = out->ptr(static_cast<int>(c.output_scanline) + i);
    jpeg_read_scanlines(&c, rows, static_cast<JDIMENSION>(n));
  }
  *orientation = ExifOrientation(c.marker_list);
  jpeg_finish_decompress(&c);
  jpeg_destroy_decompress(&c);
  return true;
}

}  // namespace

bool JpegTurboEnabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SHITU_JPEG_DECODER");
    return !(v && std::strcmp(v, "opencv") == 0);
  }();
  return enabled;
}

bool DecodeJpegTurbo(const uint8_t* data, size_t len, int scale, uint64_t width, uint64_t height, cv::Mat* out) {
#ifdef JCS_EXTENSIONS
  if (!JpegTurboEnabled()) return false;
  if (scale != 1 && scale != 2 && scale != 4 && scale != 8) return false;
  int orientation = 1;
  if (!Decode(data, len, scale, width, height, out, &orientation)) return false;
  ApplyOrientation(orientation, *out);
  return true;
#else
  (void)data, (void)len, (void)scale, (void)width, (void)height, (void)out;
  return false;  // not libjpeg-turbo: no BGR output to ask for
#endif
}

}  // namespace shitu
