//! Text queries: CLIP's tokenizer against transformers, the text tower against onnxruntime,
//! and searches by text, by combined weighted parts and within payload filters, through the
//! real binary over the tiny models (tests/fixtures/model and tests/fixtures/text-model).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// scripts/make_text_fixtures.py's record of transformers and onnxruntime.
fn parity() -> Value {
    let path = text_model().join("parity.json");
    serde_json::from_slice(&std::fs::read(&path).expect("parity.json")).expect("parity JSON")
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn numbers(value: &Value) -> Vec<f64> {
    value.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn normalised(mut vector: Vec<f64>) -> Vec<f64> {
    let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
    vector.iter_mut().for_each(|x| *x /= norm);
    vector
}

#[test]
fn token_ids_match_transformers_clip_tokenizer() {
    let tokenizer = imbed::embed::TextTokenizer::from_folder(&text_model(), None, false).expect("tokenizer");
    assert_eq!(tokenizer.max_length(), 77);
    assert!(!tokenizer.padded(), "a model with an attention mask and a free length is not padded");
    let parity = parity();
    let cases = parity["cases"].as_array().expect("cases");
    assert!(cases.len() >= 200, "only {} strings", cases.len());
    let mut differ = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let expected: Vec<i64> = numbers(&case["ids"]).into_iter().map(|id| id as i64).collect();
        let encoded = tokenizer.encode(text).expect("encode");
        assert_eq!(encoded.attention_mask, vec![1; encoded.ids.len()], "{text:?}");
        if encoded.ids != expected {
            differ.push(format!("{text:?}: ours {:?}, transformers {expected:?}", encoded.ids));
        }
    }
    assert!(differ.is_empty(), "{} of {} strings differ:\n{}", differ.len(), cases.len(), differ.join("\n"));
    // The long texts are cut to 77 with the end token kept.
    let long = tokenizer.encode(&"photo ".repeat(200)).expect("encode");
    assert_eq!(long.ids.len(), 77);
    assert_eq!((long.ids[0], long.ids[76]), (49406, 49407));
}

#[test]
fn text_vectors_match_onnxruntime_fed_transformers_ids() {
    let parity = parity();
    let cases: Vec<&Value> =
        parity["cases"].as_array().expect("cases").iter().filter(|c| c["vector"].is_array()).collect();
    assert!(cases.len() >= 20, "only {} reference vectors", cases.len());
    let lines = embed_texts(&Workspace::new(), &text_model(), &[], &cases);
    for (line, case) in lines.iter().zip(&cases) {
        assert_eq!(line["text"], case["text"]);
        let ours = numbers(&line["vector"]);
        let norm = ours.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not L2-normalised: {norm}");
        let similarity = cosine(&ours, &numbers(&case["vector"]));
        assert!(similarity >= 0.9999, "{}: cosine {similarity}", case["text"]);
    }
}

/// `imbed embed --text-model MODEL EXTRA --text T...` for each case's text: one JSON line each.
fn embed_texts(ws: &Workspace, model: &Path, extra: &[&str], cases: &[&Value]) -> Vec<Value> {
    let mut command = ws.imbed();
    command.arg("embed").arg("--text-model").arg(model).args(extra);
    for case in cases {
        command.arg("--text").arg(case["text"].as_str().expect("text"));
    }
    let output = command.output().expect("embed");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines.len(), cases.len());
    lines
}

/// The fixtures indexed with the tiny image model, the text model recorded with them.
fn indexed() -> Workspace {
    let ws = Workspace::new();
    let text_model = text_model();
    let (summary, code) = ws.index(&[&fixture_images()], &["--text-model", text_model.to_str().expect("UTF-8")]);
    assert_eq!(code, 0, "{summary}");
    ws
}

/// Every stored point: its path and vector.
fn stored(ws: &Workspace) -> Vec<(String, Vec<f64>)> {
    let store = imbed::sink::EdgeStore::open(&ws.path().join("imbed-store"), "images").expect("open the store");
    let (points, next) = store.read_points(None, 1000).expect("read");
    assert!(next.is_none());
    points
        .into_iter()
        .map(|p| {
            let path = p.payload["path"].as_str().expect("path").to_string();
            (path, p.vector.iter().map(|&x| f64::from(x)).collect())
        })
        .collect()
}

/// Paths and scores of every stored point, best first, for `query`.
fn expected_ranking(ws: &Workspace, query: &[f64]) -> Vec<(String, f64)> {
    let mut ranking: Vec<_> = stored(ws).into_iter().map(|(path, v)| (path, cosine(query, &v))).collect();
    ranking.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranking
}

fn search_json(ws: &Workspace, args: &[&str]) -> Value {
    let output = ws.imbed().args(["search", "--json", "--top", "100"]).args(args).output().expect("search");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

fn ranking_of(hits: &Value) -> Vec<(String, f64)> {
    let results = hits["results"].as_array().expect("results");
    results
        .iter()
        .map(|r| (r["path"].as_str().expect("path").to_string(), r["score"].as_f64().expect("score")))
        .collect()
}

fn assert_same_ranking(found: &[(String, f64)], expected: &[(String, f64)]) {
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for ((path, score), (want_path, want_score)) in found.iter().zip(expected) {
        assert!((score - want_score).abs() < 1e-4, "{path} {score} vs {want_path} {want_score}");
        // Ties may come in either order; a different path must score the same.
        assert!(path == want_path || (score - want_score).abs() < 1e-6, "{found:?}\nvs\n{expected:?}");
    }
}

fn text_vector(ws: &Workspace, text: &str, extra: &[&str]) -> Vec<f64> {
    let output = ws.imbed().args(["embed", "--text", text]).args(extra).output().expect("embed");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let line: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    numbers(&line["vector"])
}

fn image_vector(ws: &Workspace, image: &Path) -> Vec<f64> {
    ws.embed_vector(image, &tiny_model(), &[])
}

fn text_model_flag() -> [String; 2] {
    ["--text-model".to_string(), text_model().display().to_string()]
}

#[test]
fn search_by_text_ranks_by_the_text_vector_with_the_model_the_collection_remembers() {
    let ws = indexed();
    let flag = text_model_flag();
    let query = text_vector(&ws, "a red sneaker on white", &[&flag[0], &flag[1]]);
    // No --text-model: the collection recorded it at index time.
    let hits = search_json(&ws, &["--text", "a red sneaker on white"]);
    assert_eq!(hits["query"], "a red sneaker on white");
    assert_eq!(hits["parts"][0]["text"], "a red sneaker on white");
    assert_same_ranking(&ranking_of(&hits), &expected_ranking(&ws, &query));

    // The plain output: one `rank score path` line per hit.
    let output = ws.imbed().args(["search", "--top", "3", "--text", "a red sneaker on white"]).output().expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.lines().next().expect("a line").starts_with("  1  "), "{stdout}");
}

#[test]
fn an_indexed_image_with_a_small_text_weight_still_comes_first() {
    let ws = indexed();
    for name in ["checker.webp", "portrait_shapes.jpg", "small_stripes.bmp"] {
        let image = fixture_images().join(name);
        let image_arg = image.display().to_string();
        let hits = search_json(&ws, &["--image", &image_arg, "--text", "0.1:a photo of a golden retriever"]);
        let first = &ranking_of(&hits)[0];
        assert!(first.0.ends_with(name), "{name}: {:?}", ranking_of(&hits));
        assert_eq!(hits["parts"][0]["weight"], 0.1);
    }
}

#[test]
fn subtraction_follows_the_documented_arithmetic() {
    let ws = indexed();
    let a = fixture_images().join("landscape_gradient.jpg");
    let b = fixture_images().join("checker.webp");
    let flag = text_model_flag();
    let t = normalised(text_vector(&ws, "stripes", &[&flag[0], &flag[1]]));
    let (va, vb) = (normalised(image_vector(&ws, &a)), normalised(image_vector(&ws, &b)));
    // q = normalise(1·a − 1·b − 0.5·t)
    let query: Vec<f64> = (0..va.len()).map(|i| va[i] - vb[i] - 0.5 * t[i]).collect();
    let (a_arg, b_arg) = (a.display().to_string(), b.display().to_string());
    let hits = search_json(&ws, &["--image", &a_arg, "--not-image", &b_arg, "--not", "0.5:stripes"]);
    let found = ranking_of(&hits);
    assert_same_ranking(&found, &expected_ranking(&ws, &normalised(query)));
    assert!(found.last().expect("hits").0.ends_with("checker.webp"), "{found:?}");
    assert_eq!(hits["query"], format!("{a_arg} − 0.5×\"stripes\" − {b_arg}"));

    // Query images are either positional (one search each) or parts of the query, not both.
    let output = ws.imbed().args(["search", &a_arg, "--text", "dog"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not both"));

    // Parts that cancel out leave no direction to search in: exit 2.
    let output = ws.imbed().args(["search", "--text", "dog", "--not", "dog"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cancel out"));
}

#[test]
fn filters_narrow_the_search_in_the_embedded_store() {
    let ws = indexed();
    let all = stored(&ws).len();
    let image = fixture_images().join("checker.webp").display().to_string();
    let formats = |hits: &Value| -> Vec<String> {
        hits["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["payload"]["format"].as_str().expect("format").to_string())
            .collect()
    };
    let unfiltered = search_json(&ws, &["--text", "a dog"]);
    assert_eq!(ranking_of(&unfiltered).len(), all);
    let pngs = formats(&unfiltered).iter().filter(|f| *f == "png").count();
    assert!(pngs > 0 && pngs < all);

    let hits = search_json(&ws, &["--text", "a dog", "--filter", "format=png"]);
    assert_eq!(formats(&hits), vec!["png"; pngs]);

    // Ranges on numbers, ANDed: every hit passes both, and every point that passes is a hit.
    let sizes: Vec<(u64, u64)> = stored_payloads(&ws, "images")
        .iter()
        .map(|p| (p["width"].as_u64().expect("width"), p["height"].as_u64().expect("height")))
        .collect();
    let passing = sizes.iter().filter(|(w, h)| *w >= 100 && *h <= 200).count();
    assert!(passing > 0 && passing < all, "{sizes:?}");
    let hits = search_json(&ws, &["--image", &image, "--filter", "width>=100", "--filter", "height<=200"]);
    let results = hits["results"].as_array().expect("results");
    assert_eq!(results.len(), passing, "{sizes:?}");
    assert!(results
        .iter()
        .all(|r| r["payload"]["width"].as_u64() >= Some(100) && r["payload"]["height"].as_u64() <= Some(200)));

    // An integer value matches the number in the payload.
    let width = sizes[0].0.to_string();
    let hits = search_json(&ws, &["--text", "a dog", "--filter", &format!("width={width}")]);
    assert!(!hits["results"].as_array().expect("results").is_empty());

    // --min-score keeps only the query image itself (cosine 1).
    let hits = search_json(&ws, &["--image", &image, "--min-score", "0.9999"]);
    let found = ranking_of(&hits);
    assert!(found.len() == 1 && found[0].0.ends_with("checker.webp"), "{found:?}");
}

#[test]
fn a_filter_that_matches_nothing_prints_nothing_and_a_malformed_one_is_exit_2() {
    let ws = indexed();
    let output = ws.imbed().args(["search", "--text", "a dog", "--filter", "format=heic"]).output().expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    let hits = search_json(&ws, &["--text", "a dog", "--filter", "width>=100000"]);
    assert_eq!(hits["results"], serde_json::json!([]));

    for (filter, says) in [("width>big", "expected FIELD=VALUE"), ("width>=big", "not a number"), ("=png", "field")] {
        let output = ws.imbed().args(["search", "--text", "a dog", "--filter", filter]).output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{filter}: {stderr}");
        assert!(stderr.contains(says) && stderr.contains("--filter"), "{filter}: {stderr}");
    }
}

#[test]
fn a_text_model_of_another_dimension_or_none_at_all_is_exit_2() {
    let ws = Workspace::new();
    let info = imbed::sink::edge::CollectionInfo {
        dimension: 8,
        model: tiny_model(),
        preprocess: None,
        output: None,
        normalize: true,
        text_model: None,
        index: None,
    };
    drop(imbed::sink::EdgeStore::open_or_create(&ws.path().join("imbed-store"), "images", &info).expect("create"));
    let output = ws.imbed().args(["search", "--text", "a dog"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no text model given") && stderr.contains("--text-model"), "{stderr}");

    let output =
        ws.imbed().args(["search", "--text", "a dog"]).env("IMBED_TEXT_MODEL", text_model()).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("gives 64-dimensional vectors but collection `images` holds 8-dimensional ones"),
        "{stderr}"
    );

    // An output that is not there names the ones that are.
    let output = ws
        .imbed()
        .args(["embed", "--text", "a dog", "--text-output", "pooler_output"])
        .arg("--text-model")
        .arg(text_model())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no output `pooler_output`") && stderr.contains("text_embeds"), "{stderr}");
}

#[test]
fn index_records_the_text_model_and_a_later_index_keeps_it() {
    let ws = indexed();
    let info: Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("imbed-store/images.imbed.json")).expect("info"))
            .expect("JSON");
    assert_eq!(PathBuf::from(info["text_model"]["path"].as_str().expect("path")), text_model());
    // Indexing again without --text-model keeps what the collection remembers.
    let (summary, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{summary}");
    let again: Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("imbed-store/images.imbed.json")).expect("info"))
            .expect("JSON");
    assert_eq!(again["text_model"], info["text_model"]);
    // A folder that is not a text model fails before anything is indexed.
    let output =
        ws.index_fixtures().args(["--collection", "other", "--text-model"]).arg(tiny_model()).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no tokenizer.json"), "{stderr}");
}

#[test]
fn a_siglip_shaped_model_pads_to_its_fixed_length_and_reads_the_output_its_config_names() {
    let model = fixtures().join("siglip-text-model");
    let parity: Value =
        serde_json::from_slice(&std::fs::read(model.join("parity.json")).expect("parity.json")).expect("JSON");
    let cases = parity["cases"].as_array().expect("cases");
    // The model's input is [batch, 16] and it takes no attention mask: every text is padded
    // with the pad token that special_tokens_map.json names (`</s>`, id 1).
    let tokenizer = imbed::embed::TextTokenizer::from_folder(&model, Some(16), true).expect("tokenizer");
    assert!(tokenizer.padded() && tokenizer.max_length() == 16);
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let expected: Vec<i64> = numbers(&case["ids"]).into_iter().map(|id| id as i64).collect();
        assert_eq!(tokenizer.encode(text).expect("encode").ids, expected, "{text:?}");
    }

    let ws = Workspace::new();
    let cases: Vec<&Value> = cases.iter().collect();
    // Its config.json names a SigLIP text model, whose embedding is `pooler_output`; the
    // flag names the same one.
    for flags in [&[][..], &["--text-output", "pooler_output"][..]] {
        let lines = embed_texts(&ws, &model, flags, &cases);
        for (line, case) in lines.iter().zip(&cases) {
            let similarity = cosine(&numbers(&line["vector"]), &numbers(&case["vector"]));
            assert!(similarity >= 0.9999, "{flags:?} {}: cosine {similarity}", case["text"]);
        }
    }

    // Without a config that names its family, its output is not text_embeds, and imbed does
    // not guess.
    let anonymous = ws.path().join("anonymous-text-model");
    std::fs::create_dir(&anonymous).expect("folder");
    for entry in std::fs::read_dir(&model).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), anonymous.join(entry.file_name())).expect("copy");
    }
    let mut config: Value = serde_json::from_slice(&std::fs::read(model.join("config.json")).expect("config")).unwrap();
    let config_object = config.as_object_mut().expect("object");
    config_object.remove("model_type");
    config_object.remove("architectures");
    std::fs::write(anonymous.join("config.json"), config.to_string()).expect("write config");
    let output = ws.imbed().args(["embed", "--text", "a dog", "--text-model"]).arg(&anonymous).output().expect("embed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no output `text_embeds`") && stderr.contains("pooler_output"), "{stderr}");
}
