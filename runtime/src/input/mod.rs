//! Input files, splits and record readers. (Being written.)
