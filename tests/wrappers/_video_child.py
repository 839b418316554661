"""Child process for test_record_video.py: records CartPole, then ends in a chosen way.

Usage: python _video_child.py FOLDER MODE STEPS
  MODE=kill   prints READY after STEPS steps and sleeps, waiting for SIGKILL;
  MODE=raise  raises an unhandled exception in the loop after STEPS steps, without
              close(), so only the wrapper's finaliser at interpreter exit can save the
              video.
"""

import sys
import time

import gymnasium as gym

from gymkit.wrappers.rendering import RecordVideo


def main(folder: str, mode: str, steps: int) -> None:
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env = RecordVideo(env, folder, episode_trigger=1, formats=("mp4", "gif"))
    obs, _ = env.reset(seed=0)
    for _ in range(steps):
        # A balancing policy, so the episode outlives STEPS.
        obs, _, terminated, truncated, _ = env.step(int(3 * obs[2] + obs[3] > 0))
        if terminated or truncated:
            raise SystemExit("the episode ended early; the test needs it cut mid-episode")
    if mode == "kill":
        print("READY", flush=True)
        time.sleep(120)
    elif mode == "raise":
        raise RuntimeError("the training loop failed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
