"""python3 <this folder> ...: the trainer, as python3 train.py runs it. The
local platform runs it this way, naming the folder, so that the trainer's
identity (shared/training.CommandTrainers) is the whole tree's."""

import sys

from train import main

sys.exit(main())
