"""The browser softphone: the page, its call transport over WebRTC, and its event feed."""
