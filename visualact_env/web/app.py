"""The ASGI application of ``visualact serve``: routes, templates and the three parts.

* ``/study``: the human baseline (:mod:`.study`);
* ``/annotate``: annotation of a folder of clips (:mod:`.annotate`);
* ``/runs``, ``/run``, ``/compare``, ``/agreement``: the run browser (:mod:`.runs`).

Pages are Jinja2 templates with autoescaping on for every file, so text from models,
annotations and file names is always escaped; the only script is ``static/app.js`` (progressive
enhancement: every form works without it). Guards (token, host check, CSRF, safe paths,
headers) are in :mod:`.security`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..errors import DataError
from ..records import APL_LEVELS, APL_MEANINGS, SCENARIO_TITLES, SCENARIOS
from ..rundir import REPORT_HTML, RunError
from . import forms
from .config import ServeConfig
from .runs import Scoring, compare_videos, list_runs, load_error, resolve_run, video_detail
from .security import (
    CSRF_FIELD,
    REPORT_CSP,
    SecurityMiddleware,
    checked_form,
    csrf_token,
    is_loopback,
    safe_join,
    server_secret,
)
from .study import CONDITIONS, Study, StudyError, check_participant

HERE = Path(__file__).parent
PARTS: tuple[str, ...] = ("study", "annotate", "runs")
MAX_BODY = 1 << 20
"""Largest request body accepted (1 MiB: forms only, no uploads)."""

FRAME_OPTIONS = ("frames", "frame_size", "frame_rule", "fps", "max_frames", "max_pixels")
"""The study's frame knobs (the same fields as ``visualact eval``'s)."""

COMPARE_FIGURES = {"f1": "F1", "weighted_f1": "Weighted F1", "scale_score": "Scale score"}


@dataclass
class AppState:
    """What the routes share: the configuration and the loaded parts."""

    config: ServeConfig
    parts: tuple[str, ...]
    study: Study | None = None
    folder: Any = None
    scoring: Scoring = field(default_factory=Scoring)
    sampler: Any = None


# ---------------------------------------------------------------------------------------------
# helpers


def _state(request: Request) -> AppState:
    return request.app.state.visualact


def _need(request: Request, part: str) -> AppState:
    state = _state(request)
    if part not in state.parts or (part == "study" and state.study is None):
        raise HTTPException(404, f"the {part} part is not enabled on this server")
    if part == "annotate" and state.folder is None:
        raise HTTPException(404, "annotation is off: start the server with --annotate DIR")
    return state


def _fmt(value: Any) -> str:
    """A fraction x100 with one decimal, an en dash for None/NaN (the paper's style)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    return f"{100.0 * float(value):.1f}"


def _query(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _fmt
    env.filters["urlq"] = lambda s: quote(str(s), safe="")
    env.globals["query"] = _query
    env.globals["APL_MEANINGS"] = APL_MEANINGS
    env.globals["APL_LEVELS"] = APL_LEVELS
    env.globals["SCENARIO_TITLES"] = SCENARIO_TITLES
    env.globals["SCENARIOS"] = SCENARIOS
    env.globals["CONDITIONS"] = CONDITIONS
    env.globals["CSRF_FIELD"] = CSRF_FIELD

    def context(request: Request) -> dict[str, Any]:
        scope_state = request.scope.get("state") or {}
        return {
            "csrf": csrf_token(request.app.state.secret, scope_state.get("session", "")),
            "parts": _state(request).parts,
        }

    return Jinja2Templates(env=env, context_processors=[context])


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A page from ``templates/NAME``."""
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def _png(frame: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _frame_count(path: Path, sampler: Any) -> int:
    """How many frames the sampler gives for a clip (decodes once; the frames are cached on
    disk, so the images that follow are cheap). 0 when the clip cannot be read."""
    from ..frames import FrameError, sample_frames

    try:
        return len(sample_frames(path, sampler))
    except (FrameError, OSError, ValueError):
        return 0


def _frame_png(path: Path, sampler: Any, index: int) -> bytes:
    from ..frames import FrameError, sample_frames

    try:
        frames = sample_frames(path, sampler)
    except (FrameError, OSError) as e:
        raise HTTPException(404, f"frames could not be read: {e}") from e
    if not 0 <= index < len(frames):
        raise HTTPException(404, f"no frame {index}")
    return _png(frames[index])


PNG_HEADERS = {"cache-control": "private, max-age=3600"}


# ---------------------------------------------------------------------------------------------
# home and errors


async def home(request: Request) -> Response:
    state = _state(request)
    return render(
        request,
        "home.html",
        config=state.config,
        study=state.study,
        folder=state.folder,
        sampler=state.sampler,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "error")
    try:
        return render(request, "error.html", status=status, status_code=status, detail=detail)
    except Exception:  # the error page itself must not fail (e.g. before app state exists)
        return Response(f"{status}: {detail}", status_code=status, media_type="text/plain")


# ---------------------------------------------------------------------------------------------
# the human study


def _study_dir(state: AppState, pid: str, condition: str) -> Path:
    assert state.study is not None
    try:
        run_dir = state.study.run_dir(pid, condition)
    except StudyError as e:
        raise HTTPException(404, str(e)) from e
    if not (run_dir / "config.json").is_file():
        raise HTTPException(404, f"participant {pid!r} has not started (condition {condition})")
    return run_dir


def _study_url(pid: str, condition: str, tail: str = "") -> str:
    return f"/study/p/{quote(pid, safe='')}/{quote(condition, safe='')}{tail}"


async def study_start_page(request: Request) -> Response:
    state = _need(request, "study")
    return render(request, "study_start.html", study=state.study, errors={}, values={})


async def study_start(request: Request) -> Response:
    state = _need(request, "study")
    assert state.study is not None
    form = await checked_form(request)
    pid = str(form.get("participant") or "").strip()
    condition = str(form.get("condition") or "sampled")
    errors: dict[str, str] = {}
    try:
        check_participant(pid)
    except StudyError as e:
        errors["participant"] = str(e)
    if condition not in CONDITIONS:
        errors["condition"] = f"choose one of {', '.join(CONDITIONS)}"
    if not errors:
        try:
            await run_in_threadpool(state.study.start, pid, condition)
        except (StudyError, RunError) as e:
            errors["participant"] = str(e)
    if errors:
        values = {"participant": pid, "condition": condition}
        return render(
            request, "study_start.html", status=400, study=state.study, errors=errors, values=values
        )
    return RedirectResponse(_study_url(pid, condition), status_code=303)


async def study_resume(request: Request) -> Response:
    state = _need(request, "study")
    assert state.study is not None
    pid, condition = request.path_params["pid"], request.path_params["condition"]
    run_dir = _study_dir(state, pid, condition)
    position = await run_in_threadpool(state.study.next_position, run_dir)
    tail = "/done" if position is None else f"/clip/{position}"
    return RedirectResponse(_study_url(pid, condition, tail), status_code=303)


def _clip_context(state: AppState, pid: str, condition: str, position: int) -> dict[str, Any]:
    assert state.study is not None
    run_dir = _study_dir(state, pid, condition)
    try:
        clip = state.study.clip(run_dir, position)
    except StudyError as e:
        raise HTTPException(404, str(e)) from e
    return {"run_dir": run_dir, "clip": clip}


async def study_clip(request: Request) -> Response:
    state = _need(request, "study")
    assert state.study is not None
    pid, condition = request.path_params["pid"], request.path_params["condition"]
    ctx = await run_in_threadpool(
        _clip_context, state, pid, condition, request.path_params["position"]
    )
    if ctx["clip"].answered:
        return RedirectResponse(_study_url(pid, condition), status_code=303)
    state.study.shown(ctx["run_dir"], ctx["clip"].record.video_id)
    return await _clip_page(request, state, pid, condition, ctx["clip"], forms.padded([], 1), {})


async def _clip_page(
    request: Request,
    state: AppState,
    pid: str,
    condition: str,
    clip: Any,
    rows: list[dict[str, str]],
    errors: dict[str, str],
    status: int = 200,
    none_checked: bool = False,
) -> Response:
    assert state.study is not None
    base = _study_url(pid, condition, f"/clip/{clip.position}")
    count = 0
    if condition == "sampled":
        count = await run_in_threadpool(_frame_count, clip.record.path, state.study.sampler)
    return render(
        request,
        "study_clip.html",
        status=status,
        pid=pid,
        condition=condition,
        clip=clip,
        rows=rows,
        errors=errors,
        none_checked=none_checked,
        frames=[f"{base}/frame/{i}.png" for i in range(count)],
        video_url=f"{base}/video",
        action_url=base,
    )


async def study_submit(request: Request) -> Response:
    state = _need(request, "study")
    assert state.study is not None
    form = await checked_form(request)
    pid, condition = request.path_params["pid"], request.path_params["condition"]
    position = request.path_params["position"]
    ctx = await run_in_threadpool(_clip_context, state, pid, condition, position)
    clip = ctx["clip"]
    if clip.answered:
        return RedirectResponse(_study_url(pid, condition), status_code=303)
    parsed = forms.read_rows(form)
    none_checked = form.get("none") == "on"
    if form.get("op") == "add":
        rows = forms.padded(parsed.rows, 1, extra=1)
        return await _clip_page(
            request, state, pid, condition, clip, rows, {}, none_checked=none_checked
        )
    errors = forms.check_rows(parsed) if parsed.actions else {}
    if not parsed.actions and not none_checked:
        errors["form"] = (
            "write at least one action, or tick \u201cNo action is needed for this clip\u201d"
        )
    if parsed.actions and none_checked:
        errors["form"] = "you ticked \u201cNo action is needed\u201d but wrote actions: choose one"
    if errors:
        rows = forms.padded(parsed.rows, 1)
        return await _clip_page(
            request, state, pid, condition, clip, rows, errors, 400, none_checked=none_checked
        )
    client_ms = _int_or_none(form.get("client_ms"))
    try:
        await run_in_threadpool(
            state.study.submit, ctx["run_dir"], position, parsed.actions, client_ms=client_ms
        )
    except StudyError:
        pass  # submitted twice (another tab, a double click): the first answer stands
    except RunError as e:  # another process writes the folder: nothing was written
        errors = {"form": f"not saved, please submit again: {e}"}
        rows = forms.padded(parsed.rows, 1)
        return await _clip_page(request, state, pid, condition, clip, rows, errors, 409)
    return RedirectResponse(_study_url(pid, condition), status_code=303)


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 10**9 else None


async def study_frame(request: Request) -> Response:
    state = _need(request, "study")
    assert state.study is not None
    pid, condition = request.path_params["pid"], request.path_params["condition"]
    if condition != "sampled":
        raise HTTPException(404, "this condition shows the full clip")
    ctx = await run_in_threadpool(
        _clip_context, state, pid, condition, request.path_params["position"]
    )
    png = await run_in_threadpool(
        _frame_png, ctx["clip"].record.path, state.study.sampler, request.path_params["index"]
    )
    return Response(png, media_type="image/png", headers=PNG_HEADERS)


async def study_video(request: Request) -> Response:
    state = _need(request, "study")
    pid, condition = request.path_params["pid"], request.path_params["condition"]
    if condition != "full-clip":
        raise HTTPException(404, "this condition shows sampled frames only")
    ctx = await run_in_threadpool(
        _clip_context, state, pid, condition, request.path_params["position"]
    )
    path = ctx["clip"].record.path
    if not path.is_file():
        raise HTTPException(404, "clip not available")
    return FileResponse(path, media_type="video/mp4", filename="clip" + path.suffix)


async def study_done(request: Request) -> Response:
    state = _need(request, "study")
    assert state.study is not None
    pid, condition = request.path_params["pid"], request.path_params["condition"]
    run_dir = _study_dir(state, pid, condition)
    position = await run_in_threadpool(state.study.next_position, run_dir)
    if position is not None:
        return RedirectResponse(_study_url(pid, condition), status_code=303)
    try:
        summary = await run_in_threadpool(_study_summary, state.study, run_dir)
    except RunError as e:
        raise HTTPException(409, f"your answers are saved; the score is not ready: {e}") from e
    rid = None
    if "runs" in state.parts:
        try:
            rid = run_dir.resolve().relative_to(Path(state.config.runs).resolve()).as_posix()
        except ValueError:
            rid = None
    return render(
        request, "study_done.html", pid=pid, condition=condition, summary=summary, rid=rid
    )


def _study_summary(study: Study, run_dir: Path) -> dict[str, Any]:
    from ..rundir import PREDICTIONS_FILE, read_summary

    summary = read_summary(run_dir)
    fresh = (
        summary is not None
        and (run_dir / "summary.json").stat().st_mtime_ns
        >= (run_dir / PREDICTIONS_FILE).stat().st_mtime_ns
    )
    return summary if fresh and summary is not None else study.finish(run_dir)


# ---------------------------------------------------------------------------------------------
# annotation


def _annotator(request: Request) -> str:
    try:
        return check_participant(request.path_params["annotator"])
    except StudyError as e:
        raise HTTPException(404, str(e)) from e


def _clip_param(state: AppState, request: Request) -> tuple[str, Path]:
    clip = request.query_params.get("c", "")
    path = safe_join(state.folder.root, clip)
    if not clip or not path.is_file() or clip not in state.folder.clips():
        raise HTTPException(404, f"no clip {clip!r} in the annotation folder")
    return clip, path


async def annotate_start_page(request: Request) -> Response:
    _need(request, "annotate")
    return render(request, "annotate_start.html", errors={}, values={})


async def annotate_start(request: Request) -> Response:
    _need(request, "annotate")
    form = await checked_form(request)
    annotator = str(form.get("annotator") or "").strip()
    try:
        check_participant(annotator)
    except StudyError as e:
        message = str(e).replace("participant id", "annotator id")
        return render(
            request,
            "annotate_start.html",
            status=400,
            errors={"annotator": message},
            values={"annotator": annotator},
        )
    return RedirectResponse(f"/annotate/a/{quote(annotator, safe='')}", status_code=303)


async def annotate_list(request: Request) -> Response:
    state = _need(request, "annotate")
    annotator = _annotator(request)
    folder = state.folder

    def gather() -> dict[str, Any]:
        records = {r.get("video"): r for r in folder.records(annotator)}
        return {
            "clips": [(c, records.get(c)) for c in folder.clips()],
            "problems": folder.validate(annotator),
            "file": folder.file_for(annotator),
        }

    data = await run_in_threadpool(gather)
    return render(request, "annotate_list.html", annotator=annotator, **data)


def _annotation_rows(record: Mapping[str, Any] | None) -> list[dict[str, str]]:
    rows = []
    for a in (record or {}).get("actions") or []:
        if isinstance(a, Mapping):
            pro = a.get("proactive")
            rows.append(
                {
                    "text": str(a.get("text") or ""),
                    "apl": "" if a.get("apl") is None else str(a.get("apl")),
                    "pro": "proactive" if pro is True else "reactive" if pro is False else "",
                }
            )
    return forms.padded(rows, 3, extra=1 if rows else 0)


async def annotate_clip(request: Request) -> Response:
    state = _need(request, "annotate")
    annotator = _annotator(request)
    clip, _ = _clip_param(state, request)
    record = await run_in_threadpool(state.folder.record_for, annotator, clip)
    from .annotate import video_id_for

    values = {
        "video_id": (record or {}).get("video_id") or video_id_for(clip),
        "scenario": (record or {}).get("scenario") or "",
        "source": (record or {}).get("source") or "",
    }
    return await _annotation_page(
        request, annotator, clip, values, _annotation_rows(record), {}, []
    )


async def _annotation_page(
    request: Request,
    annotator: str,
    clip: str,
    values: dict[str, str],
    rows: list[dict[str, str]],
    errors: dict[str, str],
    other: list[str],
    status: int = 200,
    saved: bool = False,
) -> Response:
    state = _state(request)
    clips = state.folder.clips()
    index = clips.index(clip)
    count = await run_in_threadpool(_frame_count, state.folder.root / clip, state.sampler)
    nxt = clips[index + 1] if index + 1 < len(clips) else None
    return render(
        request,
        "annotate_clip.html",
        status=status,
        annotator=annotator,
        clip=clip,
        position=index + 1,
        total=len(clips),
        next_clip=nxt,
        values=values,
        rows=rows,
        errors=errors,
        other=other,
        saved=saved,
        file=state.folder.file_for(annotator).name,
        frames=[f"/annotate/frame?{_query(c=clip, i=k)}" for k in range(count)],
    )


async def annotate_save(request: Request) -> Response:
    state = _need(request, "annotate")
    annotator = _annotator(request)
    clip, _ = _clip_param(state, request)
    form = await checked_form(request)
    parsed = forms.read_rows(form)
    values = {
        "video_id": str(form.get("video_id") or "").strip(),
        "scenario": str(form.get("scenario") or "").strip(),
        "source": str(form.get("source") or "").strip(),
    }
    if form.get("op") == "add":
        rows = forms.padded(parsed.rows, 1, extra=1)
        return await _annotation_page(request, annotator, clip, values, rows, {}, [])
    record: dict[str, Any] = {
        "video_id": values["video_id"],
        "video": clip,
        "scenario": values["scenario"],
        "actions": parsed.actions,
    }
    if values["source"]:
        record["source"] = values["source"]
    result = await run_in_threadpool(state.folder.save, annotator, record)
    errors = dict(parsed.errors)
    for key, message in forms.field_errors(result.problems, parsed.index).items():
        errors.setdefault(key, message)
    rows = forms.padded(parsed.rows, 3)
    if errors:
        return await _annotation_page(
            request, annotator, clip, values, rows, errors, result.other, 400
        )
    if form.get("op") == "next":
        clips = state.folder.clips()
        index = clips.index(clip)
        if index + 1 < len(clips):
            target = f"/annotate/a/{quote(annotator, safe='')}/clip?{_query(c=clips[index + 1])}"
            return RedirectResponse(target, status_code=303)
    return await _annotation_page(
        request, annotator, clip, values, rows, {}, result.other, saved=True
    )


async def annotate_frame(request: Request) -> Response:
    state = _need(request, "annotate")
    _, path = _clip_param(state, request)
    index = _int_or_none(request.query_params.get("i"))
    if index is None:
        raise HTTPException(404, "no such frame")
    png = await run_in_threadpool(_frame_png, path, state.sampler, index)
    return Response(png, media_type="image/png", headers=PNG_HEADERS)


async def annotate_video(request: Request) -> Response:
    state = _need(request, "annotate")
    _, path = _clip_param(state, request)
    return FileResponse(path)


# ---------------------------------------------------------------------------------------------
# run browser


async def runs_page(request: Request) -> Response:
    state = _need(request, "runs")
    entries = await run_in_threadpool(list_runs, Path(state.config.runs))
    return render(request, "runs.html", entries=entries, root=str(state.config.runs))


def _run_path(state: AppState, request: Request, key: str = "r") -> tuple[str, Path]:
    rid = request.query_params.get(key, "")
    return rid, resolve_run(Path(state.config.runs), rid)


def _load(state: AppState, path: Path) -> tuple[Any, Any]:
    try:
        return state.scoring.load(path)
    except Exception as e:  # shown on the page; programming errors re-raised by load_error
        raise HTTPException(409, f"{path.name}: {load_error(e)}") from e


async def run_page(request: Request) -> Response:
    state = _need(request, "runs")
    rid, path = _run_path(state, request)
    scenario = request.query_params.get("scenario", "")
    needle = request.query_params.get("q", "").strip().lower()
    run, report = await run_in_threadpool(_load, state, path)
    from .runs import video_rows

    rows = video_rows(run, report)
    if scenario:
        rows = [r for r in rows if r["scenario"] == scenario]
    if needle:
        preds = {p.video_id: p for p in run.predictions}

        def hit(row: dict[str, Any]) -> bool:
            texts = [row["video_id"], *(a.text for a in run.benchmark[row["video_id"]].actions)]
            p = preds.get(row["video_id"])
            if p is not None:
                texts += [a.text for a in p.actions] + [str(p.extra.get("raw_text") or "")]
            return any(needle in t.lower() for t in texts)

        rows = [r for r in rows if hit(r)]
    from ..report.summary import agent_label, report_figures

    return render(
        request,
        "run.html",
        rid=rid,
        run=run,
        label=agent_label(run.config),
        figures=report_figures(report),
        counts=report.counts(),
        rows=rows,
        scenario=scenario,
        q=request.query_params.get("q", ""),
        has_report=(path / REPORT_HTML).is_file(),
        scenarios=run.benchmark.scenarios,
    )


async def run_report(request: Request) -> Response:
    state = _need(request, "runs")
    _, path = _run_path(state, request)
    report = path / REPORT_HTML
    if not report.is_file():
        raise HTTPException(404, "this run has no report.html yet (write it from the run page)")
    return FileResponse(
        report, media_type="text/html", headers={"content-security-policy": REPORT_CSP}
    )


async def run_write_report(request: Request) -> Response:
    state = _need(request, "runs")
    await checked_form(request)
    rid, path = _run_path(state, request)
    from ..report import write_reports

    try:
        await run_in_threadpool(write_reports, path, n_resamples=1000)
    except (DataError, RunError, ValueError, OSError) as e:
        raise HTTPException(409, f"cannot write the report: {e}") from e
    return RedirectResponse(f"/run?{_query(r=rid)}", status_code=303)


async def run_video(request: Request) -> Response:
    state = _need(request, "runs")
    rid, path = _run_path(state, request)
    vid = request.query_params.get("v", "")
    run, report = await run_in_threadpool(_load, state, path)
    if vid not in run.benchmark:
        raise HTTPException(404, f"no video {vid!r} in this run")
    detail = await run_in_threadpool(video_detail, state.scoring, run, vid)
    ids = list(report.scores)
    i = ids.index(vid)
    n_frames = await run_in_threadpool(
        _frame_count, run.benchmark[vid].path, _run_sampler(run.config)
    )
    from ..report.summary import agent_label

    return render(
        request,
        "video.html",
        rid=rid,
        label=agent_label(run.config),
        d=detail,
        vid=vid,
        prev_id=ids[i - 1] if i > 0 else None,
        next_id=ids[i + 1] if i + 1 < len(ids) else None,
        frames=[f"/run/frame?{_query(r=rid, v=vid, i=k)}" for k in range(n_frames)],
    )


async def run_frame(request: Request) -> Response:
    state = _need(request, "runs")
    _, path = _run_path(state, request)
    run, _ = await run_in_threadpool(_load, state, path)
    vid = request.query_params.get("v", "")
    index = _int_or_none(request.query_params.get("i"))
    if vid not in run.benchmark or index is None:
        raise HTTPException(404, "no such frame")
    sampler = _run_sampler(run.config)
    png = await run_in_threadpool(_frame_png, run.benchmark[vid].path, sampler, index)
    return Response(png, media_type="image/png", headers=PNG_HEADERS)


def _run_sampler(config: Mapping[str, Any]) -> Any:
    """The sampler a run recorded (404 when its record is unusable)."""
    from ..frames import SamplerConfig

    try:
        return SamplerConfig.from_dict(dict(config.get("sampler") or {}))
    except (TypeError, ValueError) as e:
        raise HTTPException(404, f"the run's sampler is unusable: {e}") from e


async def compare_page(request: Request) -> Response:
    state = _need(request, "runs")
    entries = await run_in_threadpool(list_runs, Path(state.config.runs))
    qp = request.query_params
    figure = qp.get("figure", "f1")
    if figure not in COMPARE_FIGURES:
        figure = "f1"
    context: dict[str, Any] = {
        "entries": entries,
        "a": qp.get("a", ""),
        "b": qp.get("b", ""),
        "figure": figure,
        "figures": COMPARE_FIGURES,
        "scenario": qp.get("scenario", ""),
        "q": qp.get("q", ""),
        "result": None,
        "error": None,
    }
    if context["a"] and context["b"]:
        _, path_a = _run_path(state, request, "a")
        _, path_b = _run_path(state, request, "b")
        run_a, rep_a = await run_in_threadpool(_load, state, path_a)
        run_b, rep_b = await run_in_threadpool(_load, state, path_b)
        if run_a.benchmark.fingerprint != run_b.benchmark.fingerprint:
            context["error"] = (
                "the two runs were made on different data: no video-by-video comparison"
            )
        else:
            context["result"] = compare_videos(
                run_a,
                rep_a,
                run_b,
                rep_b,
                figure=figure,
                scenario=context["scenario"],
                query=context["q"],
            )
    return render(request, "compare.html", **context)


async def agreement_page(request: Request) -> Response:
    state = _need(request, "runs")
    result, error = await run_in_threadpool(_agreement, state)
    return render(request, "agreement.html", result=result, error=error, saved=None)


def _agreement(state: AppState) -> tuple[dict[str, Any] | None, str | None]:
    from ..agreement import find_human_runs, human_agreement

    fingerprint = state.study.benchmark.fingerprint if state.study is not None else None
    runs = find_human_runs(Path(state.config.runs), fingerprint)
    if len(runs) < 1:
        return None, "no human runs on this study's data yet"
    try:
        return human_agreement(runs), None
    except (DataError, RunError, ValueError) as e:
        return None, str(e)


async def agreement_save(request: Request) -> Response:
    state = _need(request, "runs")
    await checked_form(request)
    from .. import jsonio
    from ..agreement import agreement_markdown
    from ..cache import atomic_write_text

    result, error = await run_in_threadpool(_agreement, state)
    if result is None:
        raise HTTPException(409, error or "nothing to save")
    root = Path(state.config.runs)
    atomic_write_text(root / "human-agreement.md", agreement_markdown(result))
    jsonio.write_json(root / "human-agreement.json", result)
    return render(request, "agreement.html", result=result, error=None, saved=str(root))


# ---------------------------------------------------------------------------------------------
# the application


def create_app(config: ServeConfig, *, token: str | None = None) -> Starlette:
    """The application for ``config``; ``token`` (required off loopback) guards every request.

    Loads the study's benchmark (``--data``) and the annotation folder up front, so a bad path
    fails at start with the loader's message rather than on the first page.
    """
    from ..datasets import load_benchmark
    from ..frames import SamplerConfig

    parts = tuple(getattr(config, "parts", PARTS) or PARTS)
    if not is_loopback(config.host) and not token:
        raise ValueError(
            f"--host {config.host} is reachable from other machines: a token is required"
        )
    sampler = SamplerConfig(num_frames=config.frames, rule=config.frame_rule)
    state = AppState(config=config, parts=parts, sampler=sampler)
    if "study" in parts:
        benchmark = load_benchmark(config.data)
        state.study = Study(
            benchmark,
            Path(config.runs),
            data_spec=config.data,
            frame_options={name: getattr(config, name) for name in FRAME_OPTIONS},
            tau=config.tau,
            embedder=config.embedder,
            seed=config.seed,
            scenarios=config.scenarios,
            limit=config.limit,
        )
        if not state.study.records:
            raise ValueError("the study selects no videos (check --scenarios and --limit)")
    if "annotate" in parts and config.annotate is not None:
        from .annotate import AnnotationFolder

        state.folder = AnnotationFolder(Path(config.annotate))
    pid = "{pid}"
    study = f"/study/p/{pid}/{{condition}}"
    routes = [
        Route("/", home),
        Route("/study", study_start_page),
        Route("/study/start", study_start, methods=["POST"]),
        Route(study, study_resume),
        Route(study + "/clip/{position:int}", study_clip),
        Route(study + "/clip/{position:int}", study_submit, methods=["POST"]),
        Route(study + "/clip/{position:int}/frame/{index:int}.png", study_frame),
        Route(study + "/clip/{position:int}/video", study_video),
        Route(study + "/done", study_done),
        Route("/annotate", annotate_start_page),
        Route("/annotate/start", annotate_start, methods=["POST"]),
        Route("/annotate/a/{annotator}", annotate_list),
        Route("/annotate/a/{annotator}/clip", annotate_clip),
        Route("/annotate/a/{annotator}/clip", annotate_save, methods=["POST"]),
        Route("/annotate/video", annotate_video),
        Route("/annotate/frame", annotate_frame),
        Route("/runs", runs_page),
        Route("/run", run_page),
        Route("/run/report", run_write_report, methods=["POST"]),
        Route("/run/report.html", run_report),
        Route("/run/video", run_video),
        Route("/run/frame", run_frame),
        Route("/compare", compare_page),
        Route("/agreement", agreement_page),
        Route("/agreement/save", agreement_save, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SecurityMiddleware,
                token=token,
                check_host=is_loopback(config.host),
                max_body=MAX_BODY,
            )
        ],
        exception_handlers={HTTPException: http_error, StudyError: _study_error},
    )
    app.state.visualact = state
    app.state.secret = server_secret()
    app.state.templates = _templates()
    return app


async def _study_error(request: Request, exc: Exception) -> Response:
    return await http_error(request, HTTPException(400, str(exc)))
