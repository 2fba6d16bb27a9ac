#pragma once
/// @file
/// The error thrown for unreadable or inconsistent data files (IDX, .gz, .npy checkpoints).

#include <stdexcept>
#include <string>

namespace fusegrad::nn {

/// A data file is missing, truncated, corrupt or inconsistent. The message names the file and
/// what is wrong with it (`train-images-idx3-ubyte.gz: wrong IDX magic 0x00000903 ...`).
class data_error : public std::runtime_error {
  public:
    explicit data_error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fusegrad::nn
