// elman: exact, fast Elman recurrent networks. The one header to include.
#pragma once

#include "elman/clip.hpp"
#include "elman/config.hpp"
#include "elman/crc32c.hpp"
#include "elman/files.hpp"
#include "elman/init.hpp"
#include "elman/linear.hpp"
#include "elman/loss.hpp"
#include "elman/model.hpp"
#include "elman/optim.hpp"
#include "elman/parallel.hpp"
#include "elman/random.hpp"
#include "elman/rnn_layer.hpp"
#include "elman/tensor.hpp"
#include "elman/version.hpp"
