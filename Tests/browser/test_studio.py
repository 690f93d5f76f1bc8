"""Headless Chromium test of `stylize studio`, driven by Selenium.

Run:  STYLIZE=.build/release/stylize python3 -m unittest Tests/browser/test_studio.py -v
Needs: selenium 4 (pip install selenium), Debian's chromium and chromium-driver, ffmpeg/ffprobe.
Optional: STUDIO_SCREENSHOTS=DIR (default: studio-screenshots under the temp --root, which is kept for them).
Nothing but 127.0.0.1 is contacted: the browser resolves no other host, and no proxy is used.
"""

import base64
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
from pathlib import Path

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    SELENIUM_ERROR = None
except ImportError as error:  # reported as a skip, not an error
    SELENIUM_ERROR = error

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "SampleClips" / "bigbuckbunny.mp4"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
START_TIMEOUT = 60      # seconds for the studio to print its URL
PREVIEW_TIMEOUT = 180   # the first preview loads the models
RENDER_TIMEOUT = 300

# Local only: no proxy for urllib, Selenium's own connection to chromedriver, or Chromium.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))
for _name in ("no_proxy", "NO_PROXY"):
    os.environ[_name] = "127.0.0.1,localhost"
# Selenium Manager is not needed (both paths are given); keep it offline should it ever run.
os.environ["SE_OFFLINE"] = "true"
os.environ["SE_AVOID_STATS"] = "true"

# Base64 of the picture #preview-after shows, with its data-seq, read in the page.
FETCH_PREVIEW_JS = """
const done = arguments[arguments.length - 1];
const img = document.querySelector('#preview-after');
const seq = Number(img.dataset.seq || 0);
fetch(img.src).then(r => r.arrayBuffer()).then(buffer => {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  done({seq: seq, base64: btoa(text)});
}).catch(error => done({seq: seq, error: String(error)}));
"""


def requirement_problem():
    """Why the test cannot run here: a string for a skip (no Chromium on this machine), an
    exception for anything that scripts/install-deps and scripts/test set up (those must fail
    the run, not skip it), or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install {package}; scripts/install-deps does)"
    if SELENIUM_ERROR is not None:
        raise RuntimeError(f"selenium cannot be imported ({SELENIUM_ERROR}); pip install selenium")
    if not os.environ.get("STYLIZE"):
        raise RuntimeError("STYLIZE is not set: point it at the stylize binary, e.g. STYLIZE=.build/debug/stylize")
    if not os.access(os.environ["STYLIZE"], os.X_OK):
        raise RuntimeError(f"STYLIZE={os.environ['STYLIZE']} is not an executable file")
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not on PATH")
    if not SAMPLE.is_file():
        raise RuntimeError(f"{SAMPLE} is missing")
    return None


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def count_frames(path):
    out = run("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
              "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path))
    return int(out.strip().splitlines()[0])


def audio_streams(path):
    out = run("ffprobe", "-v", "error", "-select_streams", "a",
              "-show_entries", "stream=index", "-of", "csv=p=0", str(path))
    return len([line for line in out.splitlines() if line.strip()])


def skip_without_requirements():
    """Skips the test case where Chromium, its driver or selenium is missing."""
    problem = requirement_problem()
    if problem:
        raise unittest.SkipTest(problem)


def screenshot_folder(default):
    """Where screenshots go: $STUDIO_SCREENSHOTS, else `default`, else a new temporary folder."""
    shots = os.environ.get("STUDIO_SCREENSHOTS")
    folder = Path(shots) if shots else default or Path(tempfile.mkdtemp(prefix="studio-live-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def halves_mean_rgb(picture):
    """The mean colour of the left quarter and of the right half of an encoded picture."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", "-"],
                           input=picture, capture_output=True, check=True).stdout.decode().strip().split(",")
    width, height = int(probe[0]), int(probe[1])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         input=picture, capture_output=True, check=True).stdout
    def mean(x0, x1):
        sums, count = [0, 0, 0], 0
        for y in range(height):
            for x in range(x0, x1):
                k = (y * width + x) * 3
                for c in range(3):
                    sums[c] += raw[k + c]
                count += 1
        return [s / count for s in sums]
    return mean(width // 16, width // 4), mean(width // 2 + width // 16, width)


class Studio:
    """`stylize studio` on a free port (or `arguments`, another command that serves the page,
    run in `root`); stdout and stderr are drained so it never blocks."""

    def __init__(self, binary, root, scratch, arguments=None):
        self.stderr_path = Path(scratch) / "studio-stderr.log"
        self.stderr_file = open(self.stderr_path, "w+")
        self.process = subprocess.Popen(
            [binary] + (arguments or ["studio", "--port", "0", "--root", str(root)]), cwd=root,
            stdout=subprocess.PIPE, stderr=self.stderr_file, text=True)
        lines = queue.Queue()

        def drain():
            for line in self.process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        try:
            first = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"stylize studio printed nothing in {START_TIMEOUT} s; stderr:\n{self.stderr()}")
        match = re.search(r"http://127\.0\.0\.1:\d+/", first or "")
        if not match:
            self.stop()
            raise AssertionError(f"no URL in the studio's first line {first!r}; stderr:\n{self.stderr()}")
        self.url = match.group(0)

    def stderr(self):
        self.stderr_file.flush()
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def get_json(self, path):
        with LOCAL.open(self.url + path.lstrip("/"), timeout=30) as response:
            return json.load(response)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr_file.close()


def make_driver(extra=()):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
        # Nothing but 127.0.0.1: no proxy, no host resolves, no background services.
        "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
        "--disable-features=OptimizationHints,MediaRouter,Translate",
        "--autoplay-policy=no-user-gesture-required",
    ) + tuple(extra):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


class StudioPageCase(unittest.TestCase):
    """The studio on a fresh root with a 2 s clip, a headless Chromium, and helpers."""

    @classmethod
    def setUpClass(cls):
        skip_without_requirements()
        cls.root = Path(tempfile.mkdtemp(prefix="stylize-studio-root-"))
        cls.scratch = Path(tempfile.mkdtemp(prefix="stylize-studio-scratch-"))  # logs, files to upload
        cls.addClassCleanup(cls.remove_temporaries)
        cls.screenshots = screenshot_folder(cls.root / "studio-screenshots")

        cls.clip = cls.root / "clip.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(SAMPLE), "-t", "2", "-vf", "scale=320:180",
                        "-c:v", "libx264", "-c:a", "aac", str(cls.clip)], check=True)
        cls.clip_frames = count_frames(cls.clip)
        # A test pattern whose left half is a green screen, for the mask.
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=320x180:rate=10:duration=1[a];color=green:size=160x180:rate=10:duration=1[b];[a][b]overlay",
                        "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", str(cls.root / "green.mp4")], check=True)

        cls.studio = Studio(os.environ["STYLIZE"], cls.root, cls.scratch)
        cls.addClassCleanup(cls.studio.stop)
        cls.driver = make_driver()
        cls.addClassCleanup(cls.driver.quit)

    @classmethod
    def remove_temporaries(cls):
        # Everything goes but the screenshots (kept even when they are under the root).
        shutil.rmtree(cls.scratch, ignore_errors=True)
        if cls.screenshots.parent == cls.root:
            for child in cls.root.iterdir():
                if child != cls.screenshots:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            shutil.rmtree(cls.root, ignore_errors=True)
        print(f"\nstudio screenshots: {cls.screenshots}")

    # -- helpers ---------------------------------------------------------------------------------

    def setUp(self):
        self.driver.get(self.studio.url)
        self.wait(30, lambda d: d.find_elements(By.CSS_SELECTOR, ".file-entry"),
                  "the file list never filled (GET /api/files)")

    def wait(self, seconds, condition, message):
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.1).until(condition)
        except TimeoutException:
            raise AssertionError(f"{message} (waited {seconds} s); #message: {self.message()!r}; "
                                 f"studio stderr:\n{self.studio.stderr()}") from None

    def css(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def message(self):
        try:
            return self.css("#message").text
        except Exception:
            return ""

    def preview_seq(self):
        return int(self.css("#preview-after").get_attribute("data-seq") or 0)

    def preview_busy(self):
        return self.css("#preview-stage").get_attribute("aria-busy") == "true"

    def wait_preview_settled(self, after_seq):
        """Waits for a preview newer than `after_seq`, then until none is in flight and data-seq has
        not changed for 1 s (the page marks #preview-stage aria-busy while a request runs)."""
        self.wait(PREVIEW_TIMEOUT, lambda d: self.preview_seq() > after_seq,
                  f"#preview-after data-seq never went past {after_seq}; #preview-status: "
                  f"{self.css('#preview-status').text!r}")
        seq, since = self.preview_seq(), time.monotonic()
        deadline = since + PREVIEW_TIMEOUT
        while time.monotonic() - since < 1.0 or self.preview_busy():
            self.assertLess(time.monotonic(), deadline, "the preview never settled")
            time.sleep(0.1)
            if self.preview_seq() != seq:
                seq, since = self.preview_seq(), time.monotonic()
        return seq

    def shown_preview(self):
        result = self.driver.execute_async_script(FETCH_PREVIEW_JS)
        self.assertNotIn("error", result, f"could not read the shown preview: {result.get('error')}")
        return result["seq"], base64.b64decode(result["base64"])

    def screenshot(self, name):
        path = self.screenshots / name
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")


class StudioBrowserTest(StudioPageCase):
    """A user's way through the page: a preview, keyframes, a render; a refused upload."""


    def test_preview_keyframes_and_render(self):
        driver = self.driver
        self.driver.set_script_timeout(30)

        # 3. Open the clip; the filmstrip shows 8 thumbnails.
        self.css('.file-entry[data-path="clip.mp4"]').click()
        self.wait(60, lambda d: d.execute_script(
            "const imgs = [...document.querySelectorAll('#filmstrip img')];"
            "return imgs.length === 8 && imgs.every(i => i.complete && i.naturalWidth > 0);"),
            "the 8 filmstrip thumbnails never loaded (GET /api/frame?width=160)")

        # 4. A style gives a first stylized preview.
        gallery = [s["id"] for s in self.studio.get_json("/api/styles")["styles"] if s["kind"] == "gallery"]
        self.assertIn("starry-night", gallery)
        second_style = "great-wave" if "great-wave" in gallery else gallery[1]
        self.css('.style-thumb[data-id="starry-night"]').click()
        first_seq = self.wait_preview_settled(0)
        first_seq, first_bytes = self.shown_preview()
        self.assertGreaterEqual(first_seq, 1)
        self.assertGreater(len(first_bytes), 0)

        # 5. Strength with real key presses: 1 -> 0 (Home) -> 0.3 (6 x Right).
        slider = self.css("#strength")
        self.assertEqual(slider.get_attribute("value"), "1")
        slider.click()
        slider.send_keys(Keys.HOME)
        slider.send_keys(Keys.RIGHT * 6)
        value = float(slider.get_attribute("value"))
        self.assertAlmostEqual(value, 0.3, places=6, msg="the strength slider did not move to 0.3")
        self.wait_preview_settled(first_seq)
        second_seq, second_bytes = self.shown_preview()
        self.assertGreater(second_seq, first_seq)
        self.assertNotEqual(second_bytes, first_bytes, "the preview at strength 0.3 is the same picture as at 1")
        self.screenshot("studio-preview.png")

        # 6. Two keyframes: starry-night at 0, the second style at the end.
        scrubber = self.css("#scrubber")
        scrubber.send_keys(Keys.HOME)
        self.wait(5, lambda d: float(scrubber.get_attribute("value")) == 0, "the scrubber did not go to 0")
        self.css("#add-keyframe").click()
        scrubber.send_keys(Keys.END)
        self.wait(5, lambda d: float(scrubber.get_attribute("value")) > 0, "the scrubber did not go to the end")
        self.css(f'.style-thumb[data-id="{second_style}"]').click()
        before_second = self.wait_preview_settled(second_seq)
        self.css("#add-keyframe").click()
        self.wait(5, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline .keyframe-marker")) == 2,
                  "there are not 2 keyframe markers on #timeline")
        self.assertEqual(len(driver.find_elements(By.CSS_SELECTOR, "#keyframe-list .keyframe-row")), 2)
        self.wait_preview_settled(before_second)  # the preview now follows the keyframes
        self.screenshot("studio-keyframes.png")

        # 7. Render; the job runs to done with every frame counted.
        known = {j.get_attribute("data-id") for j in driver.find_elements(By.CSS_SELECTOR, "#jobs .job")}
        self.css("#render").click()
        job = self.wait(30, lambda d: next((j for j in d.find_elements(By.CSS_SELECTOR, "#jobs .job")
                                            if j.get_attribute("data-id") not in known), None),
                        "no new .job appeared in #jobs after clicking #render")
        self.assertEqual(driver.find_elements(By.CSS_SELECTOR, "#jobs .job")[0], job, "the new job is not on top")
        job_id = job.get_attribute("data-id")

        def finished(_):
            state = job.find_element(By.CSS_SELECTOR, ".job-state").text.strip()
            if state in ("failed", "cancelled"):
                raise AssertionError(f"job {job_id} {state}: {job.text}\nstudio stderr:\n{self.studio.stderr()}")
            return state == "done"

        self.wait(RENDER_TIMEOUT, finished, f"job {job_id} did not finish")
        value, maximum = driver.execute_script(
            "const p = arguments[0].querySelector('progress.job-progress'); return [p.value, p.max];", job)
        self.assertEqual(value, maximum, "the finished job's progress bar is not full")
        self.assertEqual(maximum, self.clip_frames, "the job's frame total is not the clip's frame count")
        self.wait(30, lambda d: job.find_elements(By.CSS_SELECTOR, "a.job-download"), "no download link on the done job")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", job)
        self.screenshot("studio-render.png")

        # 8. The output, found through the API, has every frame and the audio.
        jobs = self.studio.get_json("/api/jobs")["jobs"]
        record = next((j for j in jobs if str(j["id"]) == job_id), None)
        self.assertIsNotNone(record, f"job {job_id} is not in GET /api/jobs")
        self.assertEqual(record["state"], "done")
        output = self.root / record["output"]
        self.assertTrue(output.is_file(), f"{output} does not exist")
        frames = count_frames(output)
        self.assertLessEqual(abs(frames - self.clip_frames), 1,
                             f"the render has {frames} frames, the clip {self.clip_frames}")
        self.assertEqual(audio_streams(output), 1, "the render does not have exactly one audio stream")

        # 9. "Clear finished" takes the done job off the list; its file stays.
        clear = self.css("#clear-jobs")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", clear)
        clear.click()
        self.wait(10, lambda d: not d.find_elements(By.CSS_SELECTOR, f'#jobs .job[data-id="{job_id}"]'),
                  f"job {job_id} is still listed after Clear finished")
        self.assertTrue(output.is_file(), "clearing the list removed the render's file")
        self.assertNotIn(int(job_id), [j["id"] for j in self.studio.get_json("/api/jobs")["jobs"]])

    def test_a_picked_colour_keys_the_preview_and_the_render(self):
        driver = self.driver
        self.driver.set_script_timeout(30)
        self.css('.file-entry[data-path="green.mp4"]').click()
        self.wait(60, lambda d: d.execute_script("const i = document.querySelector('#preview-before');"
                                                 "return i.complete && i.naturalWidth > 0;"), "the source frame never loaded")
        self.css('.style-thumb[data-id="starry-night"]').click()
        seq = self.wait_preview_settled(0)

        # Pick the green screen's colour on the source frame: the key keeps the original there.
        self.css("#mask-pick").click()
        driver.execute_script("const i = document.querySelector('#preview-before'), r = i.getBoundingClientRect();"
                              "i.dispatchEvent(new MouseEvent('click', {clientX: r.left + r.width / 4, clientY: r.top + r.height / 2,"
                              " bubbles: true}));")
        self.wait(5, lambda d: self.css("#mask").get_attribute("value").startswith("key:#"),
                  "clicking the source frame did not set a colour key")
        self.wait_preview_settled(seq)
        _, shown = self.shown_preview()
        left, right = halves_mean_rgb(shown)
        self.assertTrue(left[1] > 100 and left[0] < 40 and left[2] < 40, f"the keyed half is not the original green: {left}")
        self.assertFalse(right[1] > 100 and right[0] < 40 and right[2] < 40, f"the other half is green too: {right}")
        self.screenshot("studio-mask.png")

        # The render carries the mask, and its frames keep the green.
        known = {j.get_attribute("data-id") for j in driver.find_elements(By.CSS_SELECTOR, "#jobs .job")}
        self.css("#render").click()
        job = self.wait(30, lambda d: next((j for j in d.find_elements(By.CSS_SELECTOR, "#jobs .job")
                                            if j.get_attribute("data-id") not in known), None), "no new job after #render")
        job_id = job.get_attribute("data-id")
        self.wait(RENDER_TIMEOUT, lambda d: job.find_element(By.CSS_SELECTOR, ".job-state").text.strip() in ("done", "failed"),
                  f"job {job_id} did not finish")
        record = next(j for j in self.studio.get_json("/api/jobs")["jobs"] if str(j["id"]) == job_id)
        self.assertEqual(record["state"], "done", record)
        self.assertIn("--mask 'key:#", record["command"])
        frame = subprocess.run(["ffmpeg", "-v", "error", "-i", str(self.root / record["output"]), "-frames:v", "1", "-f", "image2",
                                "-c:v", "png", "-"], capture_output=True, check=True).stdout
        left, _ = halves_mean_rgb(frame)
        self.assertTrue(left[1] > 100 and left[0] < 40 and left[2] < 40, f"the render's keyed half is not green: {left}")

    def test_upload_of_a_non_media_file_is_refused(self):
        text_file = self.scratch / "notes.txt"
        text_file.write_text("This is not a clip or a picture.\n")
        self.css("#upload-input").send_keys(str(text_file))
        self.wait(30, lambda d: self.message().strip(), "#message stayed empty after uploading a .txt file")
        uploads = self.root / "stylize-studio" / "uploads"
        stored = [p.name for p in uploads.iterdir()] if uploads.is_dir() else []
        self.assertEqual(stored, [], f"the refused upload left files in {uploads}")


# Every panel's box and every control's, in page coordinates; for each control whether the point
# at its centre, once scrolled into view, hits it (or the label that wraps it), and whether it
# lies inside the page's width.
LAYOUT_JS = """
for (const e of document.querySelectorAll('.column')) e.scrollTop = 0;
scrollTo(0, 0);
const box = e => { const r = e.getBoundingClientRect();
  return {left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY}; };
const shown = e => { const s = getComputedStyle(e), r = e.getBoundingClientRect();
  return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0; };
const name = e => e.classList.contains('panel') ? 'panel "' + (e.querySelector('h2') || e).textContent.trim().split('\\n')[0] + '"'
  : e.id ? '#' + e.id : e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '')
  + (e.dataset.id ? '[data-id=' + e.dataset.id + ']' : e.dataset.path ? '[data-path=' + e.dataset.path + ']' : '');
const panels = [...document.querySelectorAll('.topbar, .panel')].filter(shown).map(e => ({name: name(e), box: box(e)}));
const controls = [...document.querySelectorAll('button, select, input, a[href], .file-entry, .style-thumb, .keyframe-marker')]
  .map(e => e.classList.contains('visually-hidden') ? e.closest('label') : e)
  .filter(e => e && shown(e));
const checked = controls.map(e => {
  e.scrollIntoView({block: 'center', inline: 'center'});
  const r = e.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {name: name(e), clickable: !!hit && (hit === e || e.contains(hit) || hit.contains(e) && hit.tagName === 'LABEL'),
          hit: hit ? name(hit) : null, inside: r.left >= -0.5 && r.right <= document.documentElement.clientWidth + 0.5};
});
scrollTo(0, 0);
const edge = document.documentElement.clientWidth + 0.5;
const past = e => e.getBoundingClientRect().right > edge || getComputedStyle(e).overflowX === 'visible'
  && e.getBoundingClientRect().left + e.scrollWidth > edge;
const wide = [...document.querySelectorAll('body *')].filter(e => shown(e) && past(e) && ![...e.children].some(past)).map(name);
const truncated = [...document.querySelectorAll('.style-label')].filter(e => shown(e)
  && (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)).map(e => e.textContent);
return {panels: panels, controls: checked, pageWidth: document.documentElement.scrollWidth,
        viewWidth: document.documentElement.clientWidth, wide: wide.slice(0, 8), truncated: truncated};
"""


class StudioLayoutTest(StudioPageCase):
    """The page at a phone's, a small window's and a desktop's size: no two panels overlap, every
    control can be reached and clicked, nothing is wider than the window, and a render completes."""

    SIZES = ((390, 844), (1000, 800), (1440, 900))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A style picture among the uploads, as the page's upload button leaves one.
        uploads = cls.root / "stylize-studio" / "uploads" / "styles"
        uploads.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(SAMPLE), "-frames:v", "1", "-vf", "scale=96:-2",
                        str(uploads / "photo.png")], check=True)

    def set_viewport(self, width, height):
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
        self.driver.get(self.studio.url)
        self.wait(30, lambda d: d.find_elements(By.CSS_SELECTOR, ".file-entry"),
                  "the file list never filled (GET /api/files)")

    def check_layout(self, label):
        layout = self.driver.execute_script(LAYOUT_JS)
        self.assertLessEqual(layout["pageWidth"], layout["viewWidth"],
                             f"{label}: the page is {layout['pageWidth']} px wide in a {layout['viewWidth']} px window "
                             f"(past its edge: {', '.join(layout['wide'])})")
        panels = layout["panels"]
        for i, a in enumerate(panels):
            for b in panels[i + 1:]:
                width = min(a["box"]["right"], b["box"]["right"]) - max(a["box"]["left"], b["box"]["left"])
                height = min(a["box"]["bottom"], b["box"]["bottom"]) - max(a["box"]["top"], b["box"]["top"])
                self.assertFalse(width > 1 and height > 1, f"{label}: {a['name']} and {b['name']} overlap: {a['box']} {b['box']}")
        self.assertEqual(layout["truncated"], [], f"{label}: style names cut off")
        for control in layout["controls"]:
            self.assertTrue(control["clickable"], f"{label}: {control['name']} is covered by {control['hit']}")
            self.assertTrue(control["inside"], f"{label}: {control['name']} lies outside the window's width")
        return len(panels), len(layout["controls"])

    def test_style_size_is_live_only_for_pictures(self):
        self.css('.file-entry[data-path="clip.mp4"]').click()
        size = self.css("#style-size")
        picture = self.wait(30, lambda d: d.find_elements(By.CSS_SELECTOR, '.style-thumb[data-id="stylize-studio/uploads/styles/photo.png"]'),
                            "the uploaded picture is not among the styles")[0]
        self.css('.style-thumb[data-id="starry-night"]').click()
        self.assertFalse(size.is_enabled(), "the style size is live for a gallery style, which it cannot change")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", picture)
        picture.click()
        self.assertTrue(size.is_enabled(), "the style size is off for a style picture")
        mix = self.css("#mix-style")
        self.driver.execute_script("arguments[0].value = 'starry-night'; arguments[0].dispatchEvent(new Event('change'));", mix)
        self.assertTrue(size.is_enabled(), "the style size is off for a mix with a picture in it")

    def test_a_moving_slider_gets_drafts_then_the_full_preview(self):
        self.css('.file-entry[data-path="clip.mp4"]').click()
        self.wait(60, lambda d: d.find_elements(By.CSS_SELECTOR, "#filmstrip img"), "the filmstrip never filled")
        self.css('.style-thumb[data-id="starry-night"]').click()
        seq = self.wait_preview_settled(self.preview_seq())
        # Every preview request's settings, as the page sends them.
        self.driver.execute_script("""
            window.previewBodies = [];
            const send = window.fetch;
            window.fetch = (url, options) => {
              if (String(url).includes('/api/preview')) window.previewBodies.push(JSON.parse(options.body));
              return send(url, options);
            };""")
        move = "const s = document.querySelector('#strength'); s.value = arguments[0]; s.dispatchEvent(new Event(arguments[1]));"
        self.driver.execute_script(move, "0.5", "input")
        seq = self.wait_preview_settled(seq)
        bodies = self.driver.execute_script("return window.previewBodies;")
        self.assertEqual(bodies[-1]["size"], 90, "a draft paints at half the clip's 180-pixel side")
        self.assertIn("(draft)", self.css("#preview-status").text)
        # Let go where it is: a range input fires no change then, the pointer's release ends the draft.
        self.driver.execute_script(move, "0.5", "pointerup")
        self.wait_preview_settled(seq)
        bodies = self.driver.execute_script("return window.previewBodies;")
        self.assertIsNone(bodies[-1]["size"], "letting go paints at the clip's own size")
        self.assertNotIn("(draft)", self.css("#preview-status").text)

    def test_every_size_has_its_panels_apart_and_every_control_clickable(self):
        self.driver.set_script_timeout(30)
        try:
            for width, height in self.SIZES:
                label = f"{width}x{height}"
                with self.subTest(size=label):
                    self.set_viewport(width, height)
                    self.check_layout(label + " (empty)")
                    self.css('.file-entry[data-path="clip.mp4"]').click()
                    self.wait(60, lambda d: d.execute_script(
                        "return [...document.querySelectorAll('#filmstrip img')].length === 8;"), "the filmstrip never filled")
                    self.css('.style-thumb[data-id="starry-night"]').click()
                    self.wait_preview_settled(self.preview_seq())
                    self.check_layout(label + " (a clip open)")
                    self.screenshot(f"studio-{label}.png")
                    known = {j.get_attribute("data-id") for j in self.driver.find_elements(By.CSS_SELECTOR, "#jobs .job")}
                    render = self.css("#render")
                    self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", render)
                    render.click()
                    job = self.wait(30, lambda d: next((j for j in d.find_elements(By.CSS_SELECTOR, "#jobs .job")
                                                        if j.get_attribute("data-id") not in known), None),
                                    f"{label}: no new job after clicking #render")
                    self.wait(RENDER_TIMEOUT, lambda d: job.find_element(By.CSS_SELECTOR, ".job-state").text.strip()
                              in ("done", "failed", "cancelled"), f"{label}: the render did not finish")
                    self.assertEqual(job.find_element(By.CSS_SELECTOR, ".job-state").text.strip(), "done", job.text)
                    self.check_layout(label + " (a render done)")
                    self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", job)
                    self.screenshot(f"studio-{label}-render.png")
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


# A sample of the pixels of a canvas (every 97th byte of its RGBA), read in the page.
CANVAS_SAMPLE_JS = """
const canvas = document.querySelector(arguments[0]);
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
const sample = [];
for (let i = 0; i < data.length; i += 97) sample.push(data[i]);
return sample;
"""

# The camera's current frame drawn at the stylized frame's size, sampled as CANVAS_SAMPLE_JS does.
CAMERA_SAMPLE_JS = """
const video = document.querySelector('#live-camera'), output = document.querySelector('#live-output');
const canvas = document.createElement('canvas');
canvas.width = output.width; canvas.height = output.height;
const context = canvas.getContext('2d');
context.drawImage(video, 0, 0, canvas.width, canvas.height);
const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
const sample = [];
for (let i = 0; i < data.length; i += 97) sample.push(data[i]);
return sample;
"""


def mean_difference(a, b):
    return sum(abs(x - y) for x, y in zip(a, b)) / max(1, min(len(a), len(b)))


class StudioLiveTest(unittest.TestCase):
    """The Live panel with Chromium's fake camera playing a still frame of the sample clip: stylized
    frames come back, follow the style, and a recording lands under the root. The page is served by
    `stylize live` with no output, so it also offers that command's source (still SMPTE bars from
    lavfi) to watch."""

    @classmethod
    def setUpClass(cls):
        skip_without_requirements()
        cls.root = Path(tempfile.mkdtemp(prefix="stylize-studio-live-"))
        cls.addClassCleanup(shutil.rmtree, cls.root, ignore_errors=True)
        cls.screenshots = screenshot_folder(None)
        # A still camera: one frame repeated, so that one style gives one picture.
        camera = cls.root / "camera.y4m"
        subprocess.run(["ffmpeg", "-v", "error", "-ss", "1", "-i", str(SAMPLE), "-frames:v", "1", "-vf", "scale=320:180,loop=-1:1",
                        "-t", "2", "-r", "15", "-pix_fmt", "yuv420p", str(camera)], check=True)
        cls.studio = Studio(os.environ["STYLIZE"], cls.root, cls.root,
                            ["live", "smptebars=size=320x180:rate=15", "--input-format", "lavfi", "-s", "the-scream", "--port", "0"])
        cls.addClassCleanup(cls.studio.stop)
        cls.driver = make_driver(("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                  f"--use-file-for-fake-video-capture={camera}"))
        cls.addClassCleanup(cls.driver.quit)

    wait = StudioPageCase.wait
    css = StudioPageCase.css
    message = StudioPageCase.message

    def frames(self):
        return int(self.css("#live-output").get_attribute("data-frames") or 0)

    def settled_sample(self, after):
        """The stylized frame once 10 more have come after `after` (any crossfade and the
        stabilizer's approach are over), and the count then."""
        self.wait(PREVIEW_TIMEOUT, lambda d: self.frames() >= after + 10,
                  f"no stylized frames came back past {after}; readout: {self.css('#live-readout').text!r}")
        return self.driver.execute_script(CANVAS_SAMPLE_JS, "#live-output"), self.frames()

    def test_camera_frames_come_back_stylized_follow_the_style_and_record(self):
        self.driver.get(self.studio.url)
        self.wait(30, lambda d: d.find_elements(By.CSS_SELECTOR, '.style-thumb[data-id="starry-night"]'), "no gallery styles")
        self.css('.style-thumb[data-id="starry-night"]').click()
        start = self.css("#live-start")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", start)
        start.click()
        first, count = self.settled_sample(0)
        camera = self.driver.execute_script(CAMERA_SAMPLE_JS)
        self.assertGreater(mean_difference(first, camera), 20, "the frames come back as the camera sent them, not stylized")
        self.assertRegex(self.css("#live-readout").text, r"\d+ fps, \d+ ms round trip")
        again, count = self.settled_sample(count)
        same_style = mean_difference(first, again)
        self.assertLess(same_style, 8, "one style on a still camera keeps its picture")

        self.css('.style-thumb[data-id="great-wave"]').click()
        other, count = self.settled_sample(count)
        self.assertGreater(mean_difference(first, other), 3 * same_style + 10, "another style changes the frames")
        self.driver.save_screenshot(str(self.screenshots / "studio-live.png"))
        print(f"screenshot: {self.screenshots / 'studio-live.png'}")

        self.css("#live-record").click()
        self.wait(30, lambda d: self.frames() >= count + 15, "frames stopped while recording")
        self.css("#live-record").click()
        status = self.wait(60, lambda d: self.css("#live-record-status").get_attribute("data-path"),
                           f"the recording was not saved; status {self.css('#live-record-status').text!r}")
        recording = self.root / status
        self.assertTrue(recording.is_file(), recording)
        self.assertGreater(count_frames(recording), 5)
        self.css("#live-stop").click()
        self.wait(10, lambda d: self.css("#live-start").is_displayed(), "Stop did not bring Start camera back")

    def test_the_source_it_was_started_with_comes_back_stylized_and_as_it_came(self):
        self.driver.get(self.studio.url)
        watch = self.wait(30, lambda d: d.find_element(By.CSS_SELECTOR, "#live-watch").is_displayed() and d.find_element(By.CSS_SELECTOR, "#live-watch"),
                          "no Watch source button")
        self.assertIn("smptebars", watch.get_attribute("title"))
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", watch)
        watch.click()
        # In the style the command named, as no style is picked on this page.
        first, count = self.settled_sample(0)
        source = self.driver.execute_script(CANVAS_SAMPLE_JS, "#live-source")
        self.assertGreater(max(source) - min(source), 150, "the source's frame did not come back as it came")
        self.assertGreater(mean_difference(first, source), 20, "the source's frames come back unstylized")
        again, count = self.settled_sample(count)
        same_style = mean_difference(first, again)
        self.assertLess(same_style, 8, "one style on a still source keeps its picture")
        self.assertEqual(self.css("#live-input-caption").text, "smptebars=size=320x180:rate=15")

        self.css('.style-thumb[data-id="great-wave"]').click()
        other, count = self.settled_sample(count)
        self.assertGreater(mean_difference(first, other), 3 * same_style + 10, "another style changes the frames")
        self.driver.save_screenshot(str(self.screenshots / "studio-live-source.png"))
        self.css("#live-stop").click()
        self.wait(10, lambda d: self.css("#live-watch").is_displayed() and not self.css("#live-source").is_displayed(),
                  "Stop did not bring Watch source and the camera pane back")


if __name__ == "__main__":
    unittest.main(verbosity=2)
