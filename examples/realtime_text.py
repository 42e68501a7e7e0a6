import asyncio

from openai import AsyncOpenAI


async def main() -> None:
    client = AsyncOpenAI(api_key="sk-your-bridge-key", websocket_base_url="ws://127.0.0.1:8080/v1")
    async with client.realtime.connect(model="gpt-realtime") as conn:  # GA dialect
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What are your hours?"}],
            }
        )
        await conn.response.create()
        async for event in conn:
            if event.type == "response.output_text.delta":
                print(event.delta, end="", flush=True)
            elif event.type == "response.done":
                print()
                break


asyncio.run(main())
