// Test helper: a uniform grey JPEG made with libjpeg-turbo.
#include <turbojpeg.h>

#include <cstdint>
#include <string>
#include <vector>

std::string make_test_jpeg(int w, int h, uint8_t value) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3, value);
  tjhandle tj = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  tjCompress2(tj, rgb.data(), w, 0, h, TJPF_RGB, &out, &size, TJSAMP_444, 90, 0);
  std::string s(reinterpret_cast<char*>(out), size);
  tjFree(out);
  tjDestroy(tj);
  return s;
}
