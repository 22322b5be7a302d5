"""One live operator session: a Meta-World scene stepped by a policy (or the scripted expert) behind the
always-on safety layer, with the operator's words and stop button in the loop.

    session = ConsoleSession(ConsoleConfig(task="drawer-open-v3", experts=True))
    session.step()                      # one control step; the caller paces them (server.py does)
    session.chat("move left a bit")     # a correction, an instruction or the answer to a question
    session.stop()                      # the next step sends the hold, then the session waits
    session.state()                     # everything the page shows, JSON-ready

The chain each step is the evaluation's (evaluation/runner.py ``run_episode``): policy -> executor ->
:class:`~vlastack.safety.SafeActuator` -> simulator, with the operator's corrections applied between
executor and safety layer (reasoning/corrections.py), so whatever the operator asks for is still checked
by the layer. ``step`` is the only method that touches the simulator; call it from one thread only, the
one that built the session (MuJoCo's EGL context belongs to the thread that made it). Every other method
may be called from any thread.

Stop: :meth:`stop` records the step count; the next :meth:`step` sends the hold (zero motion, gripper
command unchanged) instead of the policy's action, whatever the policy was doing, and the session then
waits (steps no further) until :meth:`resume`. So the robot halts within one control step of the press;
``state()`` reports both step counts so a client can check it.

Takeover: a person may drive instead of the policy (:meth:`take_over`, :meth:`command`, :meth:`hand_back`,
or any teleoperation stream through :attr:`operator`, a :class:`~vlastack.improve.operator.StreamOperator`).
While the person holds control each step sends their latest command [dx, dy, dz, gripper] in [-1, 1]
to the safety layer in place of the policy's action (the policy is still asked, and its proposal shown
and recorded); handing back makes the policy plan afresh from where the person left the arm (its
executor is reset, as in ``improve.interventions.run_assisted``). STOP wins over the person too: the
next step sends the hold whoever drives, and stop and resume both zero the person's motion command, so
nothing a key held during the stop does carries over. A new episode starts with the policy in control.

Recording (``ConsoleConfig.record``): every finished episode (success or step limit; one cut short by
"New episode" or by closing is not) is written to a LeRobot dataset with the takeover columns of
``improve.interventions`` (console/recording.py), so ``vlastack improve`` can fine-tune on it.

What the operator's words do (answers, corrections, new instructions) is console/dialogue.py, a part of
this class kept apart because it never touches the simulator.

The plan, subtask and reason shown are the policy's own when it explains itself (a hierarchical policy's
:class:`~vlastack.types.Explanation` from its last re-plan). Otherwise (a flat policy, the scripted
expert) they are read from the simulator's privileged state by the scripted experts' phase rules
(reasoning/phases.py, reasons.py, labels.py), not decoded by the policy. ``state()`` says which in
``explanation_source``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from typing import Any

import numpy as np

from vlastack.console.actors import ExpertActor, PolicyActor
from vlastack.console.config import ConsoleConfig, parse_command, scene_objects
from vlastack.console.dialogue import Dialogue
from vlastack.console.state import (
    ASKING,
    DONE,
    ERROR,
    EXPLANATION_SOURCE,
    HOLD,
    OPERATOR,
    POLICY,
    POLICY_EXPLANATION_SOURCE,
    RUNNING,
    STOPPED,
    SYSTEM,
    ChatLine,
    Halt,
    SessionState,
)
from vlastack.errors import ConfigError
from vlastack.reasoning.clarify import Decision
from vlastack.reasoning.corrections import CorrectionFilter, parse_correction


class ConsoleSession(Dialogue):
    """See the module docstring. ``actor`` replaces the policy or expert (tests: any
    ``(observation, info, now_s) -> action | None`` with ``reset(seed)``, ``resume()``, ``describes``)."""

    def __init__(self, config: ConsoleConfig, actor: Any = None) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._recorder = None
        if config.record is not None:
            from vlastack.console.recording import EpisodeRecorder

            # First, before a policy loads or a simulator starts: a directory it cannot record to fails fast.
            self._recorder = EpisodeRecorder(config.record, self._recorded)
        try:
            self._build(actor)
        except BaseException:
            if getattr(self, "_actuator", None) is not None:
                self._actuator.close()
            if self._recorder is not None:
                self._recorder.close()
            raise

    def _build(self, actor: Any) -> None:
        from vlastack.envs.metaworld import FPS, make_env
        from vlastack.execution import FakeClock
        from vlastack.safety import SafeActuator

        config = self.config
        # Simulated time, one control period per step, for executor and safety layer alike (as in
        # evaluation): a paused session is not a stalled one to the watchdog.
        self._clock = FakeClock()
        self._period_s = 1.0 / FPS
        if actor is None:
            if config.experts:
                actor = ExpertActor(config.task)
            else:
                from vlastack.assets import DEMO_POLICY

                actor = PolicyActor(config.checkpoint or DEMO_POLICY, config.executor, self._clock)
        self._actor = actor
        policy_cameras = tuple(getattr(actor, "cameras", ()))
        size = config.image_size or getattr(actor, "image_size", None) or 128
        self._env_cameras = tuple(dict.fromkeys((*config.cameras, *policy_cameras)))
        env = make_env(
            config.task,
            cameras=self._env_cameras,
            image_size=size,
            depth=bool(getattr(actor, "depth", False)),
            touch=True,
            **({"max_steps": config.max_steps} if config.max_steps else {}),
        )
        self._instruction_default = env.instruction
        self._actuator = SafeActuator(env, config.safety_spec, clock=self._clock)
        if self._recorder is not None:
            from vlastack import keys

            self._recorder.check_cameras({keys.image_key(c): (size, size, 3) for c in self._env_cameras})
        from vlastack.improve.operator import StreamOperator

        self._action_dim = int(self._actuator.layer.spec.action.dim)
        self.operator = StreamOperator(self._action_dim)
        """The person's controls: ``command(action)`` takes over, ``release()`` hands back (any thread)."""
        self._operator_had = False  # the person drove the previous step (a hand-back is seen against it)
        self._last_source: str | None = None
        self._frames = None  # the episode's rows while recording
        self._objects = config.objects if config.objects is not None else scene_objects(config.task)
        self._chat: deque[ChatLine] = deque(maxlen=config.history)
        self._lines = 0  # lines ever said (the deque drops old ones)
        self._interventions: deque[dict] = deque(maxlen=config.history)
        self._interventions_total = 0
        self._episode = -1
        self._total_steps = 0
        self._frame = 0
        self._status = RUNNING
        self._halt: Halt | None = None
        self._stop_requested_at: int | None = None
        self._halted_at: int | None = None
        self._question: tuple[str, Decision] | None = None
        self._new_episode = False
        self._last_failure: str | None = None
        self._replan = False  # ask the policy afresh at the next step (after a resume or a new instruction)
        self._error: str | None = None
        self._instruction = self._instruction_default
        self._target: str | None = self._objects[0].name if len(self._objects) == 1 else None
        self._say(SYSTEM, f"{self._actor.describes}; safety spec {config.safety_spec}; task {config.task}")
        if self._recorder is not None:
            self._say(SYSTEM, f"recording every finished episode to {config.record} ({self._recorder.total} there already)")
        self._start_episode()

    # ---- the control step (simulator thread only) ---------------------------------------------------
    def step(self) -> bool:
        """One control step; False when the session is waiting (stopped, asking, done, failed)."""
        with self._lock:
            if self._new_episode:
                self._new_episode = False
                self._start_episode()
            if self._status != RUNNING and self._halt is None:
                return False
            observation = dataclasses.replace(self._obs, instruction=self._instruction)
            info = self._info
            fresh = self._halt is None
            # Who drives this step is read once, here: a command that arrives during inference counts
            # from the next step. Read from the operator itself, so a stream that calls
            # ``session.operator.release()`` directly hands back as the page's button does.
            command, own = self.operator.step(observation, info, None)
            if self._operator_had and not own:
                self._replan = True  # handed back: the policy plans afresh from where the person left the arm
            self._operator_had = own
            replan, self._replan = self._replan, False
        if replan:
            # Here, on the simulator thread, never from an operator's request: the executor is not thread-safe.
            self._actor.resume()
        proposed = None
        if fresh:
            # Asked even while the person drives: its proposals are recorded beside the person's commands
            # (``policy.action``), and a sync executor's chunk keeps pace with the scene.
            try:
                proposed = self._actor(observation, info, self._clock())
            except Exception as err:  # noqa: BLE001 - a failing policy sends nothing fresh; the layer's watchdog decides
                message = f"the policy failed ({type(err).__name__}: {err}); nothing fresh sent"
                with self._lock:
                    if message != self._last_failure:  # once per kind of failure, not once per step
                        self._say(SYSTEM, message)
                    self._last_failure = message
        with self._lock:
            # The stop is checked here, after inference, so a press during inference still holds this very
            # step, whoever drives: STOP wins over the policy and over the person's command alike.
            halt = self._halt
            if halt is not None:
                action, source, proposed = self._hold(), HOLD, None
            elif own:
                # The person's command goes to the layer as given: chat corrections (speed, nudges) shape
                # the policy's actions, not a person's direct command.
                action, source = command, OPERATOR
            else:
                action = None if proposed is None else self._corrections(np.asarray(proposed, dtype=np.float32))
                source = POLICY
            observed, observed_info = self._obs, self._info
            try:
                obs, reward, terminated, truncated, info = self._actuator.step(action)
            except Exception as err:  # noqa: BLE001 - the simulator is gone: say so and step no more
                self._status, self._error = ERROR, f"{type(err).__name__}: {err}"
                self._say(SYSTEM, f"the simulator failed: {self._error}; nothing more is stepped")
                return False
            self._clock.advance(self._period_s)
            self._total_steps += 1
            self._episode_step += 1
            self._observe(obs, info)
            from vlastack.safety import SAFETY_INFO_KEY

            decision = info[SAFETY_INFO_KEY]
            self._last_action = [float(v) for v in decision["action"]]
            self._last_proposed = None if proposed is None else [float(v) for v in np.asarray(proposed).reshape(-1)]
            self._last_source = source
            driven = source == OPERATOR
            if driven and self._episode_flags[-1:] != [True]:
                self._takeovers += 1
            self._episode_flags.append(driven)
            if self._frames is not None:
                self._frames.add(observed, observed_info, decision, reward, bool(info.get("success")), driven, proposed)
            if decision["interventions"]:
                self._interventions_total += 1
                self._interventions.append(
                    {
                        "episode": self._episode,
                        "step": self._episode_step,
                        "held": decision["held"],
                        "checks": [i["check"] for i in decision["interventions"]],
                        "messages": [i["message"] for i in decision["interventions"]],
                    }
                )
            if halt is not None:
                self._halt, self._status = None, halt.status
                if halt.status == STOPPED:
                    self._halted_at = self._total_steps
                    self._say(SYSTEM, f"stopped: hold sent at step {self._total_steps} (stop pressed at step {halt.requested_at})")
            self._success = self._success or bool(info.get("success"))
            if terminated or truncated:
                how = "succeeded" if self._success else "ended without success"
                yours = sum(self._episode_flags)
                by = f"; you drove {yours} of its steps" if yours else ""
                self._say(SYSTEM, f"episode {self._episode} (seed {self._seed}) {how} after {self._episode_step} steps{by}")
                self._record_episode()
                if self.config.auto_reset:
                    self._new_episode = True
                elif self._status == RUNNING:
                    self._status = DONE
            return True

    # ---- operator actions (any thread) ----------------------------------------------------------------
    def stop(self) -> int:
        """Halt: the next step sends the hold, then nothing more is stepped until :meth:`resume`.
        Returns the total step count at the press."""
        with self._lock:
            self._stop_locked()
            return self._stop_requested_at  # type: ignore[return-value]

    def resume(self) -> None:
        """Go on after a stop (a pending question is dropped: the current instruction goes on)."""
        with self._lock:
            self._resume_locked()

    def take_over(self) -> None:
        """The person takes the controls: from the next step their command is sent, starting with the hold
        (zero motion, gripper as it is) until they command something else. Already in control: no change."""
        with self._lock:
            if self._operator_command() is None:
                self.operator.command(self._hold())
                self._say(SYSTEM, f"you have the controls from step {self._total_steps + 1}; the safety layer still checks every step")

    def command(self, action: Any) -> None:
        """The person's command [dx, dy, dz, gripper], each in [-1, 1] (:func:`parse_command`); takes over
        if they did not have the controls. It stays in force until the next command or the hand-back."""
        a = parse_command(action)
        with self._lock:
            if self._operator_command() is None:
                self._say(SYSTEM, f"you have the controls from step {self._total_steps + 1}; the safety layer still checks every step")
            self.operator.command(a)

    def hand_back(self) -> None:
        """The policy gets the controls back at the next step and plans afresh from there."""
        with self._lock:
            if self._operator_command() is not None:
                self.operator.release()
                self._say(SYSTEM, f"controls handed back to the policy at step {self._total_steps}; it plans afresh")

    def new_episode(self) -> None:
        """Start the next episode (next seed) at the next step; a stopped session stays stopped."""
        with self._lock:
            self._new_episode = True
            if self._status == DONE:
                self._status = RUNNING

    def chat(self, text: str) -> list[ChatLine]:
        """Take an operator's line: the answer to a pending question, a correction, or a new
        instruction (asked about when ambiguous). Returns the lines said in reply."""
        text = str(text).strip()
        if not text:
            raise ConfigError("chat: text must be a non-empty sentence")
        if len(text) > 500:
            raise ConfigError(f"chat: text must be at most 500 characters, got {len(text)}")
        with self._lock:
            self._say(OPERATOR, text)
            before = self._lines
            if self._question is not None:
                self._answer(text)
            else:
                correction = parse_correction(text, self._objects, self._target)
                if correction is not None:
                    self._correct(correction)
                else:
                    self._instruct(text)
            said = self._lines - before
            return list(self._chat)[len(self._chat) - said :] if said else []

    def state(self) -> dict:
        """Everything the page shows, JSON-ready."""
        with self._lock:
            explained = getattr(self._actor, "explanation", None)
            if explained is not None:  # the policy's own words from its last re-plan
                plan, plan_index = list(explained.plan) or [explained.subtask], max(explained.plan_index, 0)
                subtask, reason, source = explained.subtask, explained.reason, POLICY_EXPLANATION_SOURCE
            else:
                plan, plan_index = self._plan()
                subtask, reason, source = self._subtask, self._reason, EXPLANATION_SOURCE
            command, r = self._operator_command(), self._recorder
            return dataclasses.asdict(
                SessionState(
                    status=self._status,
                    task=self.config.task,
                    actor=self._actor.describes,
                    safety_spec=str(self.config.safety_spec),
                    instruction=self._instruction,
                    target=self._target,
                    episode=self._episode,
                    seed=self._seed,
                    episode_step=self._episode_step,
                    total_steps=self._total_steps,
                    frame=self._frame,
                    cameras=list(self.config.cameras),
                    plan=plan,
                    plan_index=plan_index,
                    subtask=subtask,
                    reason=reason,
                    explanation_source=source,
                    question=None if self._question is None else self._question[1].question,
                    success=self._success,
                    stop_requested_at=self._stop_requested_at,
                    halted_at=self._halted_at,
                    last_action=self._last_action,
                    last_proposed=self._last_proposed,
                    corrections={
                        "speed": round(float(self._corrections.speed), 3),
                        "release": self._corrections.release,
                        "grasp": self._corrections.grasp,
                        "nudging": self._corrections.nudging,
                    },
                    interventions=list(self._interventions),
                    interventions_total=self._interventions_total,
                    chat=[dataclasses.asdict(c) for c in self._chat],
                    chat_said=self._lines,
                    last_source=self._last_source,
                    operator={
                        "in_control": command is not None,
                        "command": None if command is None else [float(v) for v in command],
                        "speed": float(self.config.teleop_speed),
                        "steps": sum(self._episode_flags),
                        "takeovers": self._takeovers,
                    },
                    recording=None
                    if r is None
                    else {"dir": str(r.root), "written": r.written, "pending": r.pending, "failed": r.failed, "total": r.total},
                    error=self._error,
                    objects=[o.name for o in self._objects],
                )
            )

    def frame(self, camera: str) -> tuple[int, np.ndarray]:
        """(frame counter, uint8 [S, S, 3]) of ``camera``'s latest image."""
        with self._lock:
            if camera not in self.config.cameras:
                raise ConfigError(f"unknown camera {camera!r}; this console shows {', '.join(self.config.cameras)}")
            return self._frame, self._obs.images[camera]

    def flush_recording(self) -> None:
        """Wait until every finished episode so far is written (nothing to wait for without ``record``)."""
        if self._recorder is not None:
            self._recorder.flush()

    def close(self) -> None:
        """Release the simulator (from the thread that steps it) and finish writing the recorded episodes."""
        try:
            self._actuator.close()
        finally:
            if self._recorder is not None:
                self._recorder.close()

    # ---- internals (called with the lock held) --------------------------------------------------------
    def _say(self, who: str, text: str) -> None:
        self._lines += 1
        self._chat.append(ChatLine(who, text, self._total_steps, max(self._episode, 0)))

    def _start_episode(self) -> None:
        if self._frames is not None and len(self._frames):
            self._say(SYSTEM, f"episode {self._episode} was cut short after {len(self._frames)} steps: not recorded")
        if self._operator_command() is not None:
            self.operator.release()  # each episode starts with the policy driving
            self._say(SYSTEM, "controls handed back to the policy for the new episode")
        self._operator_had = False
        self._episode += 1
        self._seed = self.config.seed + self._episode
        self._actor.reset(self._seed)
        # Corrections are per episode: a "slower" said for one start should not silently carry over.
        self._corrections = CorrectionFilter()
        obs, info = self._actuator.reset(seed=self._seed)
        self._clock.advance(self._period_s)  # the watchdog needs time to move between episodes too
        self._episode_step = 0
        self._success = False
        self._states: list[np.ndarray] = []
        self._last_action = None
        self._last_proposed = None
        self._last_source = None
        self._episode_flags: list[bool] = []  # per step: the person chose its action
        self._takeovers = 0
        if self._recorder is not None:
            from vlastack.console.recording import EpisodeFrames

            self._frames = EpisodeFrames(self._action_dim)
        self._observe(obs, info)
        if self._status == DONE:
            self._status = RUNNING

    def _observe(self, obs: Any, info: dict) -> None:
        self._obs, self._info = obs, info
        self._frame += 1
        self._states.append(np.asarray(info["privileged"], dtype=np.float64))
        self._subtask, self._reason = _explain(self.config.task, self._states)

    def _operator_command(self) -> np.ndarray | None:
        """The person's command in force, or None when the policy has the controls."""
        command, own = self.operator.step(None, {}, None)  # a stream operator looks at neither observation nor info
        return command if own else None

    def _zero_operator_motion(self) -> None:
        command = self._operator_command()
        if command is not None:
            held = np.zeros_like(command)
            if self._actuator.layer.spec.gripper is not None:
                i = self._actuator.layer.spec.gripper.action_index
                held[i] = command[i]
            self.operator.command(held)

    def _recorded(self, text: str) -> None:
        """The recorder's report (its own thread)."""
        with self._lock:
            self._say(SYSTEM, text)

    def _record_episode(self) -> None:
        if self._recorder is None or self._frames is None or not len(self._frames):
            return
        from vlastack.envs.metaworld import FPS

        # One task string per episode: the instruction in force at its end (the person may have changed it).
        episode = self._frames.episode(self._instruction, FPS, self._success, self._seed, self.config.task)
        self._recorder.submit(episode, f"episode {self._episode} (seed {self._seed})")
        self._frames = None

    def _hold(self) -> np.ndarray:
        """Zero motion with the gripper command unchanged (the safety layer's own hold)."""
        spec = self._actuator.layer.spec
        out = np.zeros(spec.action.dim, dtype=np.float32)
        if spec.gripper is not None:
            i = spec.gripper.action_index
            out[i] = self._last_action[i] if self._last_action is not None else spec.gripper.initial_command
        return out

    def _plan(self) -> tuple[list[str], int]:
        from vlastack.envs.long_horizon import SCENES, SUITE

        if self.config.task in SUITE:
            from vlastack.reasoning.labels import stages_of

            lh = SUITE[self.config.task]
            part = SCENES[lh.scene][0]
            stage = stages_of(self.config.task, np.stack(self._states))[-1] if self._states else 0
            return [f"{verb} the {part}" for verb in lh.stages], int(stage)
        return [self._instruction], 0

    def _stop_locked(self) -> None:
        self._zero_operator_motion()
        if self._status in (STOPPED, ERROR) and self._halt is None:
            return  # already halted: the first press's numbers stand
        self._question = None
        self._stop_requested_at = self._total_steps
        self._halted_at = None
        if self._status == DONE and not self._new_episode:
            # The episode is over and nothing moves: there is no step to send the hold in.
            self._status, self._halted_at = STOPPED, self._total_steps
            self._say(SYSTEM, f"stopped at step {self._total_steps} (the episode had ended)")
            return
        self._halt = Halt(STOPPED, self._total_steps)
        self._say(SYSTEM, f"stop pressed at step {self._total_steps}: the next step sends the hold")

    def _resume_locked(self) -> None:
        if self._status == ERROR:
            self._say(SYSTEM, "cannot resume: the simulator failed")
            return
        if self._question is not None:
            self._say(SYSTEM, f"question dropped; going on with {self._instruction!r}")
        self._question, self._halt = None, None
        self._zero_operator_motion()  # a key held down since the stop does not move the arm by itself
        if self._status in (STOPPED, ASKING):
            self._status = RUNNING
            self._replan = True
            self._say(SYSTEM, f"resumed at step {self._total_steps}")


def _explain(task: str, states: list[np.ndarray]) -> tuple[str | None, str | None]:
    """Subtask and reason at the latest state, by the experts' phase rules; (None, None) without rules."""
    from vlastack.reasoning.labels import supported_tasks
    from vlastack.reasoning.phases import RULES, phase
    from vlastack.reasoning.reasons import reason

    if task in RULES:
        p = phase(task, states[-1])
        return p.subtask, reason(states[-1][:3], p)
    if task in supported_tasks():  # a long-horizon task: its stage needs the whole episode so far
        from vlastack.reasoning.labels import annotate_episode

        subtasks, reasons = annotate_episode(task, np.stack(states))
        return subtasks[-1], reasons[-1]
    return None, None
