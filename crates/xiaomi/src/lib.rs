//! pushway's Xiaomi MiPush channel: batched regid sends, form encoding as Xiaomi decodes it, and every code mapped to pushway's outcomes.
