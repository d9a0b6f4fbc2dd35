#![allow(clippy::restriction)]
// a test may unwrap, index and panic
// These are native tests of the pure core; the wasm32 build only lints the app.
#![cfg(not(target_arch = "wasm32"))]
//! Detection of the learned positional embedding on synthetic headers named like real Hub models.

use poslens::pure::source::detect::{
    detect_positional_embedding, detect_positional_name, matrix_candidates, matrix_view,
    DetectError,
};
use poslens::pure::source::format::{parse_header, Dtype, Header};

/// Returns the size in bytes of one element of a dtype name.
fn dtype_size_bytes(dtype: &str) -> u64 {
    match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        _ => 1,
    }
}

/// A tensor description: name, dtype and shape.
type Spec = (String, &'static str, Vec<u64>);

/// Builds a parsed header (no data needed) from tensor specs packed in order.
fn header_of(specs: &[Spec]) -> Header {
    let mut object = serde_json::Map::new();
    let mut offset = 0_u64;
    for (name, dtype, shape) in specs {
        let len = shape.iter().product::<u64>() * dtype_size_bytes(dtype);
        object.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let json = serde_json::Value::Object(object).to_string();
    parse_header(json.as_bytes(), None).unwrap()
}

/// Shorthand for one spec.
fn spec(name: &str, dtype: &'static str, shape: &[u64]) -> Spec {
    (name.to_owned(), dtype, shape.to_vec())
}

/// GPT-2-style tensors with a name prefix and `n_layers` blocks.
fn gpt2_specs(prefix: &str, n_positions: u64, d_model: u64, n_layers: usize) -> Vec<Spec> {
    let mut specs = vec![
        spec(&format!("{prefix}wte.weight"), "F32", &[50257, d_model]),
        spec(
            &format!("{prefix}wpe.weight"),
            "F32",
            &[n_positions, d_model],
        ),
    ];
    for layer in 0..n_layers {
        let block = format!("{prefix}h.{layer}");
        specs.extend([
            spec(&format!("{block}.ln_1.weight"), "F32", &[d_model]),
            spec(&format!("{block}.ln_1.bias"), "F32", &[d_model]),
            spec(
                &format!("{block}.attn.bias"),
                "F32",
                &[1, 1, n_positions, n_positions],
            ),
            spec(
                &format!("{block}.attn.c_attn.weight"),
                "F32",
                &[d_model, 3 * d_model],
            ),
            spec(&format!("{block}.attn.c_attn.bias"), "F32", &[3 * d_model]),
            spec(
                &format!("{block}.attn.c_proj.weight"),
                "F32",
                &[d_model, d_model],
            ),
            spec(
                &format!("{block}.mlp.c_fc.weight"),
                "F32",
                &[d_model, 4 * d_model],
            ),
            spec(
                &format!("{block}.mlp.c_proj.weight"),
                "F32",
                &[4 * d_model, d_model],
            ),
        ]);
    }
    specs.push(spec(&format!("{prefix}ln_f.weight"), "F32", &[d_model]));
    specs
}

/// BERT-style embeddings and one encoder layer.
fn bert_specs(prefix: &str, n_rows: u64, d_model: u64) -> Vec<Spec> {
    vec![
        spec(
            &format!("{prefix}embeddings.position_ids"),
            "I64",
            &[1, n_rows],
        ),
        spec(
            &format!("{prefix}embeddings.word_embeddings.weight"),
            "F32",
            &[30522, d_model],
        ),
        spec(
            &format!("{prefix}embeddings.position_embeddings.weight"),
            "F32",
            &[n_rows, d_model],
        ),
        spec(
            &format!("{prefix}embeddings.token_type_embeddings.weight"),
            "F32",
            &[2, d_model],
        ),
        spec(
            &format!("{prefix}embeddings.LayerNorm.weight"),
            "F32",
            &[d_model],
        ),
        spec(
            &format!("{prefix}encoder.layer.0.attention.self.query.weight"),
            "F32",
            &[d_model, d_model],
        ),
        spec(
            &format!("{prefix}encoder.layer.0.intermediate.dense.weight"),
            "F32",
            &[4 * d_model, d_model],
        ),
    ]
}

#[test]
fn gpt2_picks_wpe_among_many_tensors() {
    let header = header_of(&gpt2_specs("", 1024, 768, 12));
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(view.tensor_name, "wpe.weight");
    assert_eq!((view.n_rows, view.n_cols), (1024, 768));
    assert_eq!(view.dtype, Dtype::F32);
    assert_eq!(view.row_offset, 0);
    assert_eq!(view.row_offset_reason, None);
    assert_eq!(
        view.byte_range,
        header.tensor("wpe.weight").unwrap().byte_range
    );
    assert_eq!(view.byte_range.end - view.byte_range.start, 1024 * 768 * 4);
    assert_eq!(view.label(), "wpe.weight [1024 × 768] F32");
}

#[test]
fn distilgpt2_prefix_is_accepted() {
    let header = header_of(&gpt2_specs("transformer.", 1024, 768, 6));
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(view.tensor_name, "transformer.wpe.weight");
    assert_eq!((view.n_rows, view.n_cols), (1024, 768));
}

#[test]
fn gpt_neo_has_2048_positions() {
    let header = header_of(&gpt2_specs("transformer.", 2048, 768, 2));
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(view.tensor_name, "transformer.wpe.weight");
    assert_eq!((view.n_rows, view.n_cols, view.row_offset), (2048, 768, 0));
}

#[test]
fn opt_decoder_positions_start_at_row_two() {
    let header = header_of(&[
        spec("model.decoder.embed_tokens.weight", "F16", &[50272, 768]),
        spec("model.decoder.embed_positions.weight", "F16", &[2050, 768]),
        spec("model.decoder.final_layer_norm.weight", "F16", &[768]),
        spec(
            "model.decoder.layers.0.self_attn.k_proj.weight",
            "F16",
            &[768, 768],
        ),
        spec("model.decoder.layers.0.fc1.weight", "F16", &[3072, 768]),
    ]);
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(view.tensor_name, "model.decoder.embed_positions.weight");
    assert_eq!(view.dtype, Dtype::F16);
    assert_eq!((view.n_rows, view.n_cols), (2050, 768));
    assert_eq!(view.row_offset, 2);
    assert_eq!(view.n_positions(), 2048);
    assert!(view.row_offset_reason.unwrap().contains("p + 2"));
}

#[test]
fn bert_picks_position_embeddings_without_offset() {
    let header = header_of(&bert_specs("bert.", 512, 768));
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(
        view.tensor_name,
        "bert.embeddings.position_embeddings.weight"
    );
    assert_eq!((view.n_rows, view.n_cols, view.row_offset), (512, 768, 0));
}

#[test]
fn roberta_514_rows_have_offset_two() {
    let header = header_of(&bert_specs("roberta.", 514, 768));
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(
        view.tensor_name,
        "roberta.embeddings.position_embeddings.weight"
    );
    assert_eq!(
        (view.n_rows, view.row_offset, view.n_positions()),
        (514, 2, 512)
    );
    assert!(view.row_offset_reason.is_some());
}

#[test]
fn whisper_prefers_the_learned_decoder_table() {
    let header = header_of(&[
        spec("model.encoder.conv1.weight", "F32", &[384, 80, 3]),
        spec("model.encoder.embed_positions.weight", "F32", &[1500, 384]),
        spec(
            "model.encoder.layers.0.self_attn.q_proj.weight",
            "F32",
            &[384, 384],
        ),
        spec("model.decoder.embed_tokens.weight", "F32", &[51865, 384]),
        spec("model.decoder.embed_positions.weight", "F32", &[448, 384]),
        spec(
            "model.decoder.layers.0.self_attn.q_proj.weight",
            "F32",
            &[384, 384],
        ),
    ]);
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(view.tensor_name, "model.decoder.embed_positions.weight");
    assert_eq!((view.n_rows, view.n_cols, view.row_offset), (448, 384, 0));
    // The encoder table can still be chosen by name.
    let encoder = matrix_view(&header, "model.encoder.embed_positions.weight").unwrap();
    assert_eq!((encoder.n_rows, encoder.row_offset), (1500, 0));
}

#[test]
fn vit_squeezes_the_leading_one_and_skips_cls() {
    let header = header_of(&[
        spec("vit.embeddings.cls_token", "F32", &[1, 1, 768]),
        spec("vit.embeddings.position_embeddings", "F32", &[1, 197, 768]),
        spec(
            "vit.embeddings.patch_embeddings.projection.weight",
            "F32",
            &[768, 3, 16, 16],
        ),
        spec(
            "vit.encoder.layer.0.attention.attention.query.weight",
            "F32",
            &[768, 768],
        ),
        spec("classifier.weight", "F32", &[1000, 768]),
    ]);
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(view.tensor_name, "vit.embeddings.position_embeddings");
    assert_eq!((view.n_rows, view.n_cols), (197, 768));
    assert_eq!(view.original_shape, vec![1, 197, 768]);
    assert_eq!(view.row_offset, 1);
    assert!(view.row_offset_reason.unwrap().contains("CLS"));
    // The CLS token squeezes to a 1 × 768 matrix and is a candidate; the conv kernel is not.
    let names: Vec<String> = matrix_candidates(&header)
        .into_iter()
        .map(|candidate| candidate.tensor_name)
        .collect();
    assert!(names.contains(&"vit.embeddings.cls_token".to_owned()));
    assert!(!names.contains(&"vit.embeddings.patch_embeddings.projection.weight".to_owned()));
}

#[test]
fn a_rotary_model_has_no_embedding_and_lists_candidates() {
    let mut specs = vec![spec("gpt_neox.embed_in.weight", "F16", &[50304, 512])];
    for layer in 0..6 {
        let block = format!("gpt_neox.layers.{layer}");
        specs.extend([
            spec(
                &format!("{block}.attention.rotary_emb.inv_freq"),
                "F32",
                &[32],
            ),
            spec(
                &format!("{block}.attention.query_key_value.weight"),
                "F16",
                &[1536, 512],
            ),
            spec(
                &format!("{block}.attention.dense.weight"),
                "F16",
                &[512, 512],
            ),
            spec(
                &format!("{block}.mlp.dense_h_to_4h.weight"),
                "F16",
                &[2048, 512],
            ),
            spec(
                &format!("{block}.mlp.dense_4h_to_h.weight"),
                "F16",
                &[512, 2048],
            ),
            spec(&format!("{block}.input_layernorm.weight"), "F16", &[512]),
        ]);
    }
    specs.push(spec("embed_out.weight", "F16", &[50304, 512]));
    let header = header_of(&specs);
    let error = detect_positional_embedding(&header).unwrap_err();
    let DetectError::NoPositionalEmbedding { candidates } = &error else {
        panic!("expected NoPositionalEmbedding, got {error:?}");
    };
    assert_eq!(candidates.len(), 1 + 6 * 4 + 1);
    assert!(candidates.contains(&"gpt_neox.embed_in.weight [50304 × 512] F16".to_owned()));
    let message = error.to_string();
    assert!(message.contains("rotary"), "{message}");
    assert!(message.contains("ALiBi"), "{message}");
    assert!(
        message.contains("gpt_neox.embed_in.weight [50304 × 512] F16"),
        "{message}"
    );
    assert!(message.contains("and 6 more"), "{message}");
    assert!(!message.contains("inv_freq"), "{message}");
}

#[test]
fn position_ids_are_skipped_even_when_listed_first() {
    let header = header_of(&[
        spec("embeddings.position_ids", "I64", &[1, 512]),
        spec("embeddings.position_embeddings.weight", "F32", &[512, 384]),
    ]);
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(view.tensor_name, "embeddings.position_embeddings.weight");
    assert!(matches!(
        matrix_view(&header, "embeddings.position_ids"),
        Err(DetectError::NotFloat {
            dtype: Dtype::I64,
            ..
        })
    ));
}

#[test]
fn a_float_named_match_beats_an_unusable_one() {
    // An integer table with a positional name is passed over for a usable float one.
    let header = header_of(&[
        spec("wpe.weight", "I32", &[1024, 768]),
        spec(
            "bert.embeddings.position_embeddings.weight",
            "F32",
            &[512, 768],
        ),
    ]);
    let view = detect_positional_embedding(&header).unwrap();
    assert_eq!(
        view.tensor_name,
        "bert.embeddings.position_embeddings.weight"
    );
}

#[test]
fn bare_names_from_a_shard_index_are_detected() {
    let names = [
        "transformer.h.0.attn.c_attn.weight",
        "transformer.wte.weight",
        "transformer.wpe.weight",
    ];
    assert_eq!(
        detect_positional_name(names),
        Some("transformer.wpe.weight")
    );
    let whisper = [
        "model.encoder.embed_positions.weight",
        "model.decoder.embed_positions.weight",
    ];
    assert_eq!(
        detect_positional_name(whisper),
        Some("model.decoder.embed_positions.weight")
    );
    let rotary = [
        "model.layers.0.self_attn.q_proj.weight",
        "model.embed_tokens.weight",
    ];
    assert_eq!(detect_positional_name(rotary), None);
    assert_eq!(
        detect_positional_name([
            "embeddings.position_ids",
            "embeddings.token_type_embeddings.weight"
        ]),
        None
    );
}

#[test]
fn user_choice_must_be_a_nonempty_float_matrix() {
    let header = header_of(&[
        spec("empty.weight", "F32", &[0, 768]),
        spec("cube", "F32", &[2, 3, 4]),
        spec("ok.weight", "BF16", &[16, 8]),
    ]);
    assert!(matches!(
        matrix_view(&header, "empty.weight"),
        Err(DetectError::EmptyMatrix { .. })
    ));
    assert!(matches!(
        matrix_view(&header, "cube"),
        Err(DetectError::NotMatrix { .. })
    ));
    let view = matrix_view(&header, "ok.weight").unwrap();
    assert_eq!((view.n_rows, view.n_cols, view.row_offset), (16, 8, 0));
    let missing = matrix_view(&header, "nope").unwrap_err();
    assert!(missing.to_string().contains("`ok.weight`"), "{missing}");
}
