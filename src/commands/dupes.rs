//! `imbed dupes`: reads the collection's payloads (and, for semantic copies, asks the store
//! for each vector's neighbours, a page at a time), joins the pairs into groups, prints one
//! group a line, and with `--mark` writes `dup_of` into the members' payloads.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use super::settings::StoreSettings;
use super::{ExitStatus, Printer};
use crate::cli::DupesArgs;
use crate::dupes::{exact_pairs, group, near_pairs, Entry, Group, Method, Pair};
use crate::sink::{each_page, ReadPoints};

pub fn dupes(printer: Printer, collection: StoreSettings, args: DupesArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let (mut source, _) = super::export::open_source(&collection)?;
    let semantic = args.method.contains(&Method::Semantic);
    let reporter = printer.progress("Reading", Duration::from_secs(10));
    reporter.discovered(source.point_count()?);
    let mut entries = Vec::new();
    // Semantic hits name their neighbour by ID, which may come in a later page.
    let mut hits: Vec<(usize, Uuid, f32)> = Vec::new();
    each_page(source.as_ref(), args.page as usize, |points| {
        if semantic && !points.is_empty() {
            let vectors: Vec<Vec<f32>> = points.iter().map(|point| point.vector.clone()).collect();
            let found = source.search_many(&vectors, args.neighbours as usize + 1, args.min_score)?;
            for (offset, neighbours) in found.into_iter().enumerate() {
                let index = entries.len() + offset;
                hits.extend(neighbours.into_iter().map(|(id, score)| (index, id, score)));
            }
        }
        entries.extend(points.iter().map(|point| Entry::from_payload(point.id, &point.payload)));
        reporter.progressed(entries.len() as u64, 0);
        Ok(ControlFlow::Continue(()))
    })?;
    reporter.finish();
    let mut pairs = Vec::new();
    if args.method.contains(&Method::Exact) {
        pairs.extend(exact_pairs(&entries));
    }
    if args.method.contains(&Method::Near) {
        let comparing = printer.progress("Comparing hashes", Duration::from_secs(10));
        comparing.discovered(entries.len() as u64);
        pairs.extend(near_pairs(&entries, args.max_distance, &|looked_up| comparing.progressed(looked_up as u64, 0)));
        comparing.finish();
    }
    if semantic {
        let positions: HashMap<Uuid, usize> = entries.iter().enumerate().map(|(index, e)| (e.id, index)).collect();
        for (a, id, score) in hits {
            match positions.get(&id) {
                Some(&b) if b > a => pairs.push(Pair { a, b, method: Method::Semantic, score: f64::from(score) }),
                _ => {}
            }
        }
    }
    let groups = group(&entries, &pairs, args.keep);
    print_groups(printer, &args, &entries, &groups)?;
    let members: usize = groups.iter().map(|group| group.members.len()).sum();
    if args.mark {
        let marked = mark(source.as_mut(), &entries, &groups, args.page as usize)?;
        printer.message(format_args!("Marked {marked} points with dup_of."));
    }
    printer.message(format_args!(
        "{} groups, {members} duplicates among {} points, in {:.1}s.",
        groups.len(),
        entries.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(ExitStatus::Success)
}

fn print_groups(printer: Printer, args: &DupesArgs, entries: &[Entry], groups: &[Group]) -> anyhow::Result<()> {
    if args.csv {
        let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
        writer.write_record(["group", "id", "key", "role", "reason", "score"])?;
        for (number, group) in groups.iter().enumerate() {
            let keep = &entries[group.keep];
            writer.write_record([&number.to_string(), &keep.id.to_string(), &keep.key, "keep", "", ""])?;
            for member in &group.members {
                let entry = &entries[member.index];
                let reason = json!(member.reason).as_str().unwrap_or_default().to_string();
                let (number, id, score) = (number.to_string(), entry.id.to_string(), member.score.to_string());
                writer.write_record([number.as_str(), &id, &entry.key, "duplicate", &reason, &score])?;
            }
        }
        writer.flush()?;
        return Ok(());
    }
    for (number, group) in groups.iter().enumerate() {
        let keep = &entries[group.keep];
        let members: Vec<_> = group
            .members
            .iter()
            .map(|member| {
                let entry = &entries[member.index];
                json!({"id": entry.id, "key": entry.key, "reason": member.reason, "score": member.score})
            })
            .collect();
        printer.result(json!({"group": number, "keep": {"id": keep.id, "key": keep.key}, "members": members}))?;
    }
    Ok(())
}

/// Writes `dup_of` into the payload of every member; points are rewritten whole.
fn mark(source: &mut dyn ReadPoints, entries: &[Entry], groups: &[Group], page: usize) -> anyhow::Result<usize> {
    let dup_of: HashMap<Uuid, Uuid> = groups
        .iter()
        .flat_map(|group| group.members.iter().map(|member| (member.id, entries[group.keep].id)))
        .collect();
    let (mut next, mut marked) = (None, 0);
    loop {
        let (points, following) = source.read_page(next, page)?;
        let mut changed: Vec<_> = points.into_iter().filter(|point| dup_of.contains_key(&point.id)).collect();
        for point in &mut changed {
            point.payload.insert("dup_of".to_string(), json!(dup_of[&point.id]));
        }
        marked += changed.len();
        if !changed.is_empty() {
            source.upsert(changed)?;
        }
        next = following;
        if next.is_none() {
            break;
        }
    }
    source.flush()?;
    Ok(marked)
}
