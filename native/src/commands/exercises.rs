//! `lmlab exercises`: the labs' "predict, then check" questions.

use lmlab::exercise::Exercise;
use lmlab::InputError;

use crate::cli::ExerciseArgs;
use crate::report::print_json;

fn all() -> Vec<(&'static str, Exercise)> {
    let precision = lmlab::precision::exercises().into_iter().map(|e| ("precision", e));
    let compute = lmlab::accounting::exercises().into_iter().map(|e| ("compute", e));
    let tokenizers = lmlab::tokenize::exercises().into_iter().map(|e| ("tokenizers", e));
    let hardware = lmlab::hardware::exercises().into_iter().map(|e| ("hardware", e));
    let scaling = lmlab::scaling::exercises().into_iter().map(|e| ("scaling", e));
    tokenizers.chain(precision).chain(compute).chain(hardware).chain(scaling).collect()
}

pub fn run(args: &ExerciseArgs) -> Result<(), InputError> {
    let exercises = all();
    if let Some(check) = &args.check {
        let (id, answer) = (&check[0], &check[1]);
        let (_, exercise) = exercises.iter().find(|(_, e)| e.id == id).ok_or_else(|| {
            let ids: Vec<&str> = exercises.iter().map(|(_, e)| e.id).collect();
            InputError::new("exercise", id, format!("one of: {}", ids.join(", ")))
        })?;
        let verdict = exercise.check(answer)?;
        if args.json {
            print_json(&verdict);
        } else {
            println!("{}\n{}", verdict.message, exercise.explanation);
        }
        return Ok(());
    }
    if args.json {
        // The answers stay out of the listing: predict first.
        let listing: Vec<_> = exercises
            .iter()
            .map(|(lab, e)| serde_json::json!({"lab": lab, "id": e.id, "question": e.question, "unit": e.unit}))
            .collect();
        print_json(&listing);
        return Ok(());
    }
    for (lab, e) in &exercises {
        println!("[{lab}] {}\n    {}\n", e.id, e.question);
    }
    println!("Check an answer with: lmlab exercises --check ID ANSWER");
    Ok(())
}
