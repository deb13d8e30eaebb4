// ditto — umbrella header. `#include <ditto/ditto.h>` and link `ditto::ditto`.
#pragma once

#include "core/autograd.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/info.h"
#include "core/mode.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "nn/optim.h"
