//! zstd-framed casts (`.cast.zst`): independent frames of whole lines, each
//! preceded by a skippable-frame index record for cheap seeking.

mod index;
mod salvage;
mod seek;
mod state;
mod writer;

pub use index::{
    decode_frame_list, encode_frame_list, read_frame_index, FrameInfo, FrameState, FLAG_ALT_SCREEN,
    FLAG_HEADER, FLAG_STATE, INDEX_FRAME_LEN, INDEX_PAYLOAD_LEN, INDEX_RECORD_VERSION, INDEX_TAG,
    SKIPPABLE_MAGIC,
};
pub use salvage::{
    damaged_frames, report_damage, salvaging_decoder, set_damage_reporter, Damage, SalvageReader,
    Salvaging,
};
pub use seek::{open_cast_at, open_cast_at_frames, SeekedCastReader};
pub use writer::{FrameOptions, FramedCastWriter};
